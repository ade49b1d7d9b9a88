from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult

from platform_server.integrations.models import (
    Integration,
    IntegrationStatus,
    OAuthState,
    SyncLog,
    WorkspaceIntegration,
)
from platform_server.pagination import PageParams
from platform_server.repository import Repository, TeamScopedRepository, delete_batch


class IntegrationRepository(TeamScopedRepository[Integration]):
    model = Integration

    async def list_page(
        self, params: PageParams, status: str | None, provider: str | None
    ) -> tuple[Sequence[Integration], int]:
        statement = self.scoped()
        if status is not None:
            statement = statement.where(Integration.status == status)
        if provider is not None:
            statement = statement.where(Integration.provider == provider)
        return await self.paginate(statement.order_by(Integration.id.desc()), params)

    async def name_taken(self, name: str) -> bool:
        found = await self.session.scalar(
            select(Integration.id).where(Integration.team_id == self.team_id, Integration.name == name).limit(1)
        )
        return found is not None

    async def names_starting_with(self, prefix: str) -> set[str]:
        rows = await self.session.scalars(
            select(Integration.name).where(Integration.team_id == self.team_id, Integration.name.startswith(prefix))
        )
        return set(rows)

    async def find_account(self, provider: str, account_id: str, *, exclude_id: str) -> Integration | None:
        result: Integration | None = await self.session.scalar(
            self.scoped().where(
                Integration.provider == provider,
                Integration.provider_account_id == account_id,
                Integration.id != exclude_id,
            )
        )
        return result


class OAuthStateRepository(Repository[OAuthState]):
    """Looked up by the state's hash alone: the callback carries no other credential, and the hash is one."""

    model = OAuthState

    async def get_by_hash(self, state_hash: str) -> OAuthState | None:
        result: OAuthState | None = await self.session.scalar(
            select(OAuthState).where(OAuthState.state_hash == state_hash)
        )
        return result

    async def claim(self, state_id: str, now: datetime) -> bool:
        """Marks a state used; false when another request got there first, so each state works once."""
        result = await self.session.execute(
            update(OAuthState).where(OAuthState.id == state_id, OAuthState.used_at.is_(None)).values(used_at=now)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def delete_expired(self, team_id: str, now: datetime) -> None:
        await self.session.execute(delete(OAuthState).where(OAuthState.team_id == team_id, OAuthState.expires_at < now))

    async def delete_expired_batch(self, now: datetime, limit: int) -> int:
        """Across teams (maintenance): an expired state can no longer finish a connection, used or not."""
        return await delete_batch(self.session, OAuthState, OAuthState.expires_at < now, limit=limit)


class TokenExpiryRepository(Repository[Integration]):
    """Across teams (maintenance): which connections hold a token about to expire."""

    model = Integration

    async def expiring_before(self, before: datetime, limit: int) -> list[str]:
        """Ids of usable integrations whose main or Slack user token expires before `before` and can be
        refreshed (a refresh token is stored), soonest first."""
        usable = Integration.status.in_((IntegrationStatus.connected, IntegrationStatus.error))
        main_due = and_(Integration.refresh_token_encrypted.is_not(None), Integration.token_expires_at < before)
        user_due = and_(
            Integration.user_refresh_token_encrypted.is_not(None), Integration.user_token_expires_at < before
        )
        rows = await self.session.scalars(
            select(Integration.id)
            .where(usable, or_(main_due, user_due))
            .order_by(func.coalesce(Integration.token_expires_at, Integration.user_token_expires_at))
            .limit(limit)
        )
        return list(rows)


class SyncLogRepository(TeamScopedRepository[SyncLog]):
    model = SyncLog

    async def latest(self, integration_id: str, limit: int) -> Sequence[SyncLog]:
        rows = await self.session.scalars(
            select(SyncLog)
            .where(SyncLog.team_id == self.team_id, SyncLog.integration_id == integration_id)
            .order_by(SyncLog.started_at.desc(), SyncLog.id.desc())
            .limit(limit)
        )
        return rows.all()


class WorkspaceIntegrationRepository(TeamScopedRepository[WorkspaceIntegration]):
    model = WorkspaceIntegration

    async def list_page(
        self, workspace_id: str, params: PageParams
    ) -> tuple[Sequence[tuple[WorkspaceIntegration, Integration]], int]:
        statement = (
            select(WorkspaceIntegration, Integration, func.count().over().label("total"))
            .join(Integration, Integration.id == WorkspaceIntegration.integration_id)
            .where(WorkspaceIntegration.team_id == self.team_id, WorkspaceIntegration.workspace_id == workspace_id)
            .order_by(WorkspaceIntegration.id.desc())
            .limit(params.limit)
            .offset(params.offset)
        )
        rows = (await self.session.execute(statement)).all()
        if rows:
            return [(row[0], row[1]) for row in rows], int(rows[0][2])
        total = await self.session.scalar(
            select(func.count()).where(
                WorkspaceIntegration.team_id == self.team_id, WorkspaceIntegration.workspace_id == workspace_id
            )
        )
        return [], int(total or 0)

    async def get_for(self, workspace_id: str, integration_id: str) -> WorkspaceIntegration | None:
        result: WorkspaceIntegration | None = await self.session.scalar(
            self.scoped().where(
                WorkspaceIntegration.workspace_id == workspace_id,
                WorkspaceIntegration.integration_id == integration_id,
            )
        )
        return result

    async def get_by_provider(self, workspace_id: str, provider: str) -> WorkspaceIntegration | None:
        result: WorkspaceIntegration | None = await self.session.scalar(
            self.scoped().where(
                WorkspaceIntegration.workspace_id == workspace_id, WorkspaceIntegration.provider == provider
            )
        )
        return result
