from typing import Literal

from pydantic import Field

from platform_server.schemas import Schema, UtcDatetime
from platform_server.teams.models import Plan


class RateLimitUsageRead(Schema):
    enabled: bool = Field(description="False when the server runs without request limits", examples=[True])
    limit: int = Field(description="Requests per minute allowed by the team's plan, per user", examples=[100])
    remaining: int | None = Field(
        description="Requests left in the sliding minute, this one counted; null when not measured",
        examples=[99],
    )
    reset: int | None = Field(
        description="Unix seconds at which the oldest request in the window ages out", examples=[1736857260]
    )


class AiMessagesUsageRead(Schema):
    used: int = Field(examples=[12])
    limit: int = Field(examples=[50])
    remaining: int = Field(examples=[38])
    scope: Literal["team", "user"] = Field(
        description="`team`: one allowance shared by the team (Free); `user`: one per user (Pro)", examples=["team"]
    )
    period_start: UtcDatetime = Field(examples=["2026-11-01T00:00:00Z"])
    period_end: UtcDatetime = Field(
        description="Exclusive: the allowance resets at this instant", examples=["2026-12-01T00:00:00Z"]
    )


class UsageRead(Schema):
    plan: Plan = Field(examples=["free"])
    rate_limit: RateLimitUsageRead
    ai_messages: AiMessagesUsageRead
