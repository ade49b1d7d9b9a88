"""Queries of the pushed-sync path. A delivery names no team: it is found by the registration it answers, and
every later query is scoped to that registration's team and integration."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.integrations.models import Integration, PushWebhook, PushWebhookStatus, WorkspaceIntegration


class PushWebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_target(self, provider: str, target: str) -> Sequence[PushWebhook]:
        statement = select(PushWebhook).where(PushWebhook.provider == provider, PushWebhook.target == target)
        return (await self.session.scalars(statement)).all()

    async def by_external_ids(self, provider: str, external_ids: Sequence[str]) -> Sequence[PushWebhook]:
        if not external_ids:
            return []
        statement = select(PushWebhook).where(
            PushWebhook.provider == provider, PushWebhook.external_id.in_(external_ids)
        )
        return (await self.session.scalars(statement)).all()

    async def of_integration(self, team_id: str, integration_id: str) -> Sequence[PushWebhook]:
        statement = (
            select(PushWebhook)
            .where(PushWebhook.team_id == team_id, PushWebhook.integration_id == integration_id)
            .order_by(PushWebhook.created_at)
        )
        return (await self.session.scalars(statement)).all()

    async def get(self, team_id: str, integration_id: str, webhook_id: str) -> PushWebhook | None:
        statement = select(PushWebhook).where(
            PushWebhook.id == webhook_id, PushWebhook.team_id == team_id, PushWebhook.integration_id == integration_id
        )
        return await self.session.scalar(statement)

    async def manual_unbound(self, provider: str) -> Sequence[PushWebhook]:
        """Webhooks set up by hand whose provider id is not known yet (Linear's, until their first delivery)."""
        statement = select(PushWebhook).where(
            PushWebhook.provider == provider,
            PushWebhook.status == PushWebhookStatus.manual,
            PushWebhook.external_id.is_(None),
        )
        return (await self.session.scalars(statement)).all()

    async def get_for(self, team_id: str, integration_id: str, target: str) -> PushWebhook | None:
        statement = select(PushWebhook).where(
            PushWebhook.team_id == team_id, PushWebhook.integration_id == integration_id, PushWebhook.target == target
        )
        return await self.session.scalar(statement)

    async def jira_expiring(self, before: datetime) -> Sequence[tuple[PushWebhook, Integration]]:
        """Active Jira registrations that lapse before `before`, across teams (the refresh task serves all)."""
        statement = (
            select(PushWebhook, Integration)
            .join(Integration, Integration.id == PushWebhook.integration_id)
            .where(
                PushWebhook.provider == "jira",
                PushWebhook.status == PushWebhookStatus.active,
                PushWebhook.expires_at < before,
            )
            .order_by(PushWebhook.integration_id)
        )
        return [(webhook, integration) for webhook, integration in (await self.session.execute(statement)).all()]

    def add(self, webhook: PushWebhook) -> PushWebhook:
        self.session.add(webhook)
        return webhook

    async def delete(self, webhook: PushWebhook) -> None:
        await self.session.delete(webhook)

    async def syncable_accesses(self, team_id: str, integration_id: str) -> Sequence[WorkspaceIntegration]:
        """The enabled workspace integrations of one connected integration, locked on PostgreSQL while their
        imports are queued."""
        statement = (
            select(WorkspaceIntegration)
            .join(Integration, Integration.id == WorkspaceIntegration.integration_id)
            .where(
                WorkspaceIntegration.team_id == team_id,
                WorkspaceIntegration.integration_id == integration_id,
                WorkspaceIntegration.enabled.is_(True),
                Integration.team_id == team_id,
                Integration.status.in_(("connected", "error")),
            )
            .order_by(WorkspaceIntegration.id)
        )
        return (await self.session.scalars(statement)).all()

    async def default_projects(self, team_id: str, integration_id: str) -> list[str]:
        statement = (
            select(WorkspaceIntegration.default_project)
            .where(
                WorkspaceIntegration.team_id == team_id,
                WorkspaceIntegration.integration_id == integration_id,
                WorkspaceIntegration.default_project.is_not(None),
            )
            .distinct()
        )
        return [project for project in (await self.session.scalars(statement)).all() if project]
