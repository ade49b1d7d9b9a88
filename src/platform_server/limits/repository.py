from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.limits.models import AiUsage
from platform_server.repository import TeamScopedRepository
from platform_server.teams.models import Team


class TeamPlanRepository:
    """The plan of the caller's own team (the team row is the tenant itself, so the id is the scope)."""

    def __init__(self, session: AsyncSession, team_id: str) -> None:
        self.session = session
        self.team_id = team_id

    async def plan(self) -> str | None:
        result: str | None = await self.session.scalar(select(Team.plan).where(Team.id == self.team_id))
        return result


class AiUsageRepository(TeamScopedRepository[AiUsage]):
    model = AiUsage

    async def consume(
        self,
        *,
        subject_id: str,
        scope: str,
        user_id: str | None,
        period_start: date,
        limit: int,
        now: datetime,
    ) -> int | None:
        """One statement, atomic on both backends: the new count, or None when the limit is already reached.

        INSERT … ON CONFLICT DO UPDATE … WHERE used < limit RETURNING used: the row lock (PostgreSQL) or the
        database write lock (SQLite) serialises concurrent consumers, and the WHERE is evaluated on the
        latest row, so no interleaving can push `used` past the limit.
        """
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(AiUsage)
            .values(
                team_id=self.team_id,
                user_id=user_id,
                scope=scope,
                subject_id=subject_id,
                period_start=period_start,
                used=1,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=[AiUsage.subject_id, AiUsage.period_start],
                set_={"used": AiUsage.used + 1, "updated_at": now},
                where=(AiUsage.used < limit) & (AiUsage.team_id == self.team_id),
            )
            .returning(AiUsage.used)
        )
        used: int | None = await self.session.scalar(statement)
        return used

    async def refund(self, *, subject_id: str, period_start: date, now: datetime) -> bool:
        result = await self.session.execute(
            update(AiUsage)
            .where(
                AiUsage.team_id == self.team_id,
                AiUsage.subject_id == subject_id,
                AiUsage.period_start == period_start,
                AiUsage.used > 0,
            )
            .values(used=AiUsage.used - 1, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def used(self, *, subject_id: str, period_start: date) -> int:
        used = await self.session.scalar(
            select(AiUsage.used).where(
                AiUsage.team_id == self.team_id,
                AiUsage.subject_id == subject_id,
                AiUsage.period_start == period_start,
            )
        )
        return int(used or 0)
