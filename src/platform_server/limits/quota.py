"""Monthly AI message allowances: Free 50 per team, Pro 1,000 per user, per calendar month (UTC).

Counters live in the database (`ai_usage`), not in the rate-limit store: they must survive a Redis flush, be
exact across processes and be auditable. Consuming is one atomic statement (see AiUsageRepository.consume).
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.errors import PlatformError
from platform_server.limits.repository import AiUsageRepository, TeamPlanRepository
from platform_server.teams.models import Plan
from platform_server.teams.plans import PlanLimits, plan_limits


class AiQuotaExceeded(PlatformError):
    status_code = 429
    code = "AI_QUOTA_EXCEEDED"


@dataclass(frozen=True, slots=True)
class QuotaPeriod:
    start: datetime
    end: datetime  # exclusive: the first instant of the next month, when the allowance resets

    @classmethod
    def month_of(cls, moment: datetime) -> "QuotaPeriod":
        moment = moment.astimezone(UTC)
        start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
        return cls(start, end)

    @property
    def key(self) -> date:
        return self.start.date()


@dataclass(frozen=True, slots=True)
class AiQuotaTicket:
    """One consumed message; hand it back to `refund` if the message could not be delivered."""

    team_id: str
    subject_id: str
    scope: Literal["team", "user"]
    period: QuotaPeriod
    used: int
    limit: int


@dataclass(frozen=True, slots=True)
class AiUsageSnapshot:
    plan: Plan
    used: int
    limit: int
    scope: Literal["team", "user"]
    period: QuotaPeriod


def _subject(principal: Principal, limits: PlanLimits) -> tuple[str, str | None]:
    """Whose counter: the team's on Free (shared), the user's own on Pro."""
    if limits.ai_messages_scope == "user":
        return principal.user_id, principal.user_id
    return principal.team_id, None


class AiQuotaService:
    async def consume(
        self, session: AsyncSession, settings: Settings, principal: Principal, now: datetime | None = None
    ) -> AiQuotaTicket:
        """Counts one AI message; raises AiQuotaExceeded (429) when the month's allowance is spent.

        Runs in the caller's transaction; commit it before the (slow) model call so that the counter row is
        not held locked meanwhile — `consume_ai_message` does exactly that.
        """
        now = now or utcnow()
        period = QuotaPeriod.month_of(now)
        limits = plan_limits(await self._plan(session, principal), settings)
        subject_id, user_id = _subject(principal, limits)
        repository = AiUsageRepository(session, principal.team_id)
        used = None
        if limits.ai_messages_per_month > 0:
            used = await repository.consume(
                subject_id=subject_id,
                scope=limits.ai_messages_scope,
                user_id=user_id,
                period_start=period.key,
                limit=limits.ai_messages_per_month,
                now=now,
            )
        if used is None:
            spent = await repository.used(subject_id=subject_id, period_start=period.key)
            raise _exceeded(spent, limits, period, now)
        return AiQuotaTicket(
            principal.team_id, subject_id, limits.ai_messages_scope, period, used, limits.ai_messages_per_month
        )

    async def refund(self, session: AsyncSession, ticket: AiQuotaTicket, now: datetime | None = None) -> bool:
        """Gives the message back to the month it was taken from (even if that month has since ended)."""
        return await AiUsageRepository(session, ticket.team_id).refund(
            subject_id=ticket.subject_id, period_start=ticket.period.key, now=now or utcnow()
        )

    async def snapshot(
        self, session: AsyncSession, settings: Settings, principal: Principal, now: datetime | None = None
    ) -> AiUsageSnapshot:
        period = QuotaPeriod.month_of(now or utcnow())
        plan = await self._plan(session, principal)
        limits = plan_limits(plan, settings)
        subject_id, _ = _subject(principal, limits)
        used = await AiUsageRepository(session, principal.team_id).used(subject_id=subject_id, period_start=period.key)
        return AiUsageSnapshot(limits.name, used, limits.ai_messages_per_month, limits.ai_messages_scope, period)

    async def _plan(self, session: AsyncSession, principal: Principal) -> str:
        # Read from the database, not the limiter's plan cache: an AI message is worth an exact answer.
        return await TeamPlanRepository(session, principal.team_id).plan() or Plan.free


def _exceeded(used: int, limits: PlanLimits, period: QuotaPeriod, now: datetime) -> AiQuotaExceeded:
    owner = "your team" if limits.ai_messages_scope == "team" else "you"
    return AiQuotaExceeded(
        f"The monthly allowance of {limits.ai_messages_per_month} AI messages for {owner} is used up",
        details={
            "used": used,
            "limit": limits.ai_messages_per_month,
            "scope": limits.ai_messages_scope,
            "reset": period.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        headers={"Retry-After": str(max(1, math.ceil((period.end - now).total_seconds())))},
    )


quota_service = AiQuotaService()


async def consume_ai_message(
    app_state: Any, principal: Principal, session: AsyncSession | None = None
) -> AiQuotaTicket:
    """Consumes one AI message; the AI assistant calls this before the model, `refund_ai_message` if it fails.

    On PostgreSQL the counter is updated in a short transaction of its own, committed before this returns, so
    the row is not held locked during the model call. On SQLite there is one writer for the whole database:
    if the request's own transaction has already written (the API key's `last_used_at`, say), a second
    transaction would wait for it forever, so pass the request's `session` there and the count commits (or
    rolls back) with the request.
    """
    if session is not None and session.get_bind().dialect.name == "sqlite":
        return await quota_service.consume(session, app_state.settings, principal)
    async with app_state.sessionmaker() as own, own.begin():
        return await quota_service.consume(own, app_state.settings, principal)


async def refund_ai_message(app_state: Any, ticket: AiQuotaTicket, session: AsyncSession | None = None) -> bool:
    if session is not None and session.get_bind().dialect.name == "sqlite":
        return await quota_service.refund(session, ticket)
    async with app_state.sessionmaker() as own, own.begin():
        return await quota_service.refund(own, ticket)
