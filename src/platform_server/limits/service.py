from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.limits.limiter import STORE_ERRORS, RateLimitInfo, RateLimitState, request_limiter
from platform_server.limits.quota import AiUsageSnapshot, quota_service
from platform_server.log import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Usage:
    rate_limit_enabled: bool
    requests_per_minute: int
    rate: RateLimitInfo | None
    ai: AiUsageSnapshot


class UsageService:
    async def usage(
        self,
        session: AsyncSession,
        settings: Settings,
        principal: Principal,
        decided: RateLimitState | None,
        now: datetime | None = None,
    ) -> Usage:
        ai = await quota_service.snapshot(session, settings, principal, now)
        rate = await decided.resolve() if decided is not None else None
        limits_enabled = settings.RATE_LIMIT_ENABLED
        per_minute = ai.plan and rate.limit if rate is not None else _per_minute(settings, ai.plan)
        return Usage(limits_enabled, per_minute, rate, ai)


def _per_minute(settings: Settings, plan: str) -> int:
    from platform_server.teams.plans import plan_limits

    return plan_limits(plan, settings).requests_per_minute


async def plan_changed(app_state: Any, team_id: str) -> None:
    """Call once a change to `teams.plan` has committed: the new plan applies from the next request on, on
    every process (with Redis) — rate limits and AI allowances alike."""
    plans = request_limiter(app_state).plans
    plan = await plans.load(team_id)
    try:
        await plans.publish(team_id, plan)
    except STORE_ERRORS as exc:
        # Other processes pick the change up when their cached entry expires (limits.plans.PLAN_TTL_SECONDS).
        logger.warning("plan_change_not_published", team_id=team_id, error=f"{type(exc).__name__}: {exc}")


usage_service = UsageService()
