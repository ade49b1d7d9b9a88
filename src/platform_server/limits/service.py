from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.limits.limiter import STORE_ERRORS, RateLimitInfo, request_limiter
from platform_server.limits.quota import AiUsageSnapshot, quota_service
from platform_server.log import get_logger
from platform_server.teams.models import Plan
from platform_server.teams.plans import plan_limits

logger = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Usage:
    plan: Plan
    rate_limit_enabled: bool
    requests_per_minute: int
    # This request's own count; None when limits are off or the store did not answer.
    rate: RateLimitInfo | None
    ai: AiUsageSnapshot


class UsageService:
    async def usage(
        self,
        session: AsyncSession,
        settings: Settings,
        principal: Principal,
        rate: RateLimitInfo | None,
        now: datetime | None = None,
    ) -> Usage:
        ai = await quota_service.snapshot(session, settings, principal, now)
        per_minute = rate.limit if rate is not None else plan_limits(ai.plan, settings).requests_per_minute
        return Usage(ai.plan, settings.RATE_LIMIT_ENABLED, per_minute, rate, ai)


async def plan_changed(app_state: Any, team_id: str) -> None:
    """Call once a change to `teams.plan` has committed: the new plan's rate limit applies from the next
    request on, on every process (through Redis when configured). AI allowances read the plan directly."""
    plans = request_limiter(app_state).plans
    plan = await plans.load(team_id)
    try:
        await plans.publish(team_id, plan)
    except STORE_ERRORS as exc:
        # Other processes pick the change up when their entry expires (limits.plans.PLAN_TTL_SECONDS).
        logger.warning("plan_change_not_published", team_id=team_id, error=f"{type(exc).__name__}: {exc}")


usage_service = UsageService()
