from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.jobs.models import FINISHED, Job
from platform_server.repository import delete_batch


class JobRepository:
    """Our `jobs` table (SQLite's queue); procrastinate keeps PostgreSQL's."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delete_finished_before(self, cutoff: datetime, limit: int) -> int:
        """Jobs that succeeded, failed or were cancelled before `cutoff`: at most `limit` of them."""
        return await delete_batch(self.session, Job, Job.status.in_(FINISHED), Job.finished_at < cutoff, limit=limit)
