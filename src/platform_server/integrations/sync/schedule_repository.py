"""The scheduler's queries: across teams by design (it serves every team), never exposed to a request."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.integrations.models import WorkspaceIntegration


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def due(self, now: datetime, limit: int) -> Sequence[WorkspaceIntegration]:
        """The oldest due schedules first. On PostgreSQL the rows stay locked until the commit and rows another
        scheduler holds are skipped, so two schedulers never enqueue the same run."""
        statement = (
            select(WorkspaceIntegration)
            .where(WorkspaceIntegration.next_sync_at <= now, WorkspaceIntegration.sync_interval_minutes.is_not(None))
            .order_by(WorkspaceIntegration.next_sync_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(statement)).all()
