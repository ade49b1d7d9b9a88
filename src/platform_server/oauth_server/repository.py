from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.oauth_server.models import (
    ClientRegistration,
    OAuthAuthorizationCode,
    OAuthClient,
    OAuthConsent,
    OAuthToken,
    TokenKind,
)
from platform_server.repository import delete_batch
from platform_server.teams.models import User
from platform_server.workspaces.models import Workspace


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What an access token stands for, read in one query on every MCP request that presents one."""

    token_id: str
    scope: str
    resource: str
    expires_at: datetime
    consent_id: str
    client_row_id: str
    user_id: str
    team_id: str
    workspace_id: str
    role: str
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectedApp:
    consent_id: str
    client_name: str
    client_id: str
    workspace_id: str
    workspace_name: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None


# Built once: it runs for every MCP request made with an OAuth token.
_access_grant = (
    select(
        OAuthToken.id,
        OAuthToken.scope,
        OAuthToken.resource,
        OAuthToken.expires_at,
        OAuthConsent.id,
        OAuthConsent.client_row_id,
        OAuthConsent.user_id,
        OAuthConsent.team_id,
        OAuthConsent.workspace_id,
        User.role,
        OAuthConsent.last_used_at,
    )
    .join(OAuthConsent, OAuthConsent.id == OAuthToken.consent_id)
    .join(User, User.id == OAuthConsent.user_id)
    .where(
        OAuthToken.token_hash == bindparam("token_hash"),
        OAuthToken.kind == TokenKind.access,
        OAuthToken.revoked_at.is_(None),
    )
)


class OAuthRepository:
    """The authorization server's tables. Clients and tokens are looked up before any team is known; consents
    are read and changed for the signed-in person only."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: OAuthClient | OAuthConsent | OAuthAuthorizationCode | OAuthToken) -> None:
        self.session.add(row)

    async def client(self, client_id: str, now: datetime) -> OAuthClient | None:
        client = await self.session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if client is not None and client.expires_at is not None and client.expires_at <= now:
            return None
        return client

    async def client_by_row(self, client_row_id: str) -> OAuthClient | None:
        return await self.session.get(OAuthClient, client_row_id)

    async def registrations_since(self, address: str, since: datetime) -> int:
        statement = select(func.count()).where(OAuthClient.registered_from == address, OAuthClient.created_at > since)
        return int(await self.session.scalar(statement) or 0)

    async def delete_expired_clients(self, now: datetime) -> None:
        await self.session.execute(
            delete(OAuthClient).where(
                OAuthClient.registration == ClientRegistration.dynamic, OAuthClient.expires_at <= now
            )
        )

    async def delete_codes_expired_before(self, before: datetime, limit: int) -> int:
        return await delete_batch(
            self.session, OAuthAuthorizationCode, OAuthAuthorizationCode.expires_at < before, limit=limit
        )

    async def delete_tokens_expired_before(self, before: datetime, limit: int) -> int:
        """Access and refresh tokens alike; a family is gone once its last token is."""
        return await delete_batch(self.session, OAuthToken, OAuthToken.expires_at < before, limit=limit)

    async def workspace(self, workspace_id: str) -> Workspace | None:
        return await self.session.get(Workspace, workspace_id)

    async def consent(self, client_row_id: str, user_id: str, workspace_id: str) -> OAuthConsent | None:
        return await self.session.scalar(
            select(OAuthConsent).where(
                OAuthConsent.client_row_id == client_row_id,
                OAuthConsent.user_id == user_id,
                OAuthConsent.workspace_id == workspace_id,
            )
        )

    async def consent_by_id(self, consent_id: str) -> OAuthConsent | None:
        return await self.session.get(OAuthConsent, consent_id)

    async def code_for_update(self, code_hash: str) -> OAuthAuthorizationCode | None:
        statement = select(OAuthAuthorizationCode).where(OAuthAuthorizationCode.code_hash == code_hash)
        return await self.session.scalar(statement.with_for_update())

    async def token_for_update(self, token_hash: str) -> OAuthToken | None:
        statement = select(OAuthToken).where(OAuthToken.token_hash == token_hash)
        return await self.session.scalar(statement.with_for_update())

    async def claim_code(self, code_id: str, now: datetime) -> bool:
        """Marks the code used; False when another request used it first (a conditional write, so that two
        concurrent exchanges cannot both succeed on any database)."""
        result = await self.session.execute(
            update(OAuthAuthorizationCode)
            .where(OAuthAuthorizationCode.id == code_id, OAuthAuthorizationCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def rotate(self, token_id: str, now: datetime) -> bool:
        """Marks a refresh token used, likewise exactly once."""
        result = await self.session.execute(
            update(OAuthToken)
            .where(OAuthToken.id == token_id, OAuthToken.rotated_at.is_(None))
            .values(rotated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        await self.session.execute(
            update(OAuthToken)
            .where(OAuthToken.family_id == family_id, OAuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def access_grant(self, token_hash: str) -> AccessGrant | None:
        row = (await self.session.execute(_access_grant, {"token_hash": token_hash})).first()
        return AccessGrant(*row) if row is not None else None

    async def touch_consent(self, consent_id: str, now: datetime) -> None:
        await self.session.execute(update(OAuthConsent).where(OAuthConsent.id == consent_id).values(last_used_at=now))

    async def connected_apps(self, team_id: str, user_id: str) -> Sequence[ConnectedApp]:
        statement = (
            select(
                OAuthConsent.id,
                OAuthClient.client_name,
                OAuthClient.client_id,
                OAuthConsent.workspace_id,
                Workspace.name,
                OAuthConsent.scope,
                OAuthConsent.created_at,
                OAuthConsent.last_used_at,
            )
            .join(OAuthClient, OAuthClient.id == OAuthConsent.client_row_id)
            .join(Workspace, Workspace.id == OAuthConsent.workspace_id)
            .where(OAuthConsent.team_id == team_id, OAuthConsent.user_id == user_id)
            .order_by(OAuthConsent.created_at.desc(), OAuthConsent.id.desc())
        )
        return [ConnectedApp(*row) for row in (await self.session.execute(statement)).all()]

    async def delete_consent(self, consent: OAuthConsent) -> None:
        await self.session.delete(consent)
