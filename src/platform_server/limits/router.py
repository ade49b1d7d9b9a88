from fastapi import APIRouter, Request

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.limits.limiter import STATE_KEY
from platform_server.limits.schemas import AiMessagesUsageRead, RateLimitUsageRead, UsageRead
from platform_server.limits.service import usage_service

router = APIRouter(prefix="/api", tags=["usage"], responses=error_responses(401, 429))


@router.get(
    "/usage",
    operation_id="getUsage",
    summary="The plan's limits and what is used: requests this minute, AI messages this month",
)
async def get_usage(request: Request, principal: CurrentPrincipal, session: SessionDep) -> UsageRead:
    usage = await usage_service.usage(
        session, request.app.state.settings, principal, request.scope.get("state", {}).get(STATE_KEY)
    )
    ai = usage.ai
    return UsageRead(
        plan=usage.plan,
        rate_limit=RateLimitUsageRead(
            enabled=usage.rate_limit_enabled,
            limit=usage.requests_per_minute,
            remaining=usage.rate.remaining if usage.rate is not None else None,
            reset=usage.rate.reset if usage.rate is not None else None,
        ),
        ai_messages=AiMessagesUsageRead(
            used=ai.used,
            limit=ai.limit,
            remaining=max(0, ai.limit - ai.used),
            scope=ai.scope,
            period_start=ai.period.start,
            period_end=ai.period.end,
        ),
    )
