"""What each plan allows; the numbers themselves are settings."""

from dataclasses import dataclass
from typing import Literal

from platform_server.config import Settings
from platform_server.teams.models import Plan


@dataclass(frozen=True, slots=True)
class PlanLimits:
    name: Plan
    requests_per_minute: int
    ai_messages_per_month: int
    ai_messages_scope: Literal["team", "user"]


def plan_limits(plan: str, settings: Settings) -> PlanLimits:
    if plan == Plan.pro:
        return PlanLimits(Plan.pro, settings.RATE_LIMIT_PRO_PER_MINUTE, settings.AI_MESSAGES_PRO_PER_USER, "user")
    return PlanLimits(Plan.free, settings.RATE_LIMIT_FREE_PER_MINUTE, settings.AI_MESSAGES_FREE_PER_TEAM, "team")
