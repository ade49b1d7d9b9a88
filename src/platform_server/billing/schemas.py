from typing import Literal

from pydantic import Field

from platform_server.schemas import Schema, UtcDatetime


class BillingRead(Schema):
    plan: Literal["free", "pro"] = Field(examples=["pro"])
    status: str | None = Field(
        description="The Stripe subscription status (`active`, `trialing`, `past_due`, `canceled`, …); "
        "null when the team never subscribed",
        examples=["active"],
    )
    current_period_end: UtcDatetime | None = Field(
        description="When the current billing period ends (and, with cancelAtPeriodEnd, when Pro ends)"
    )
    cancel_at_period_end: bool = Field(examples=[False])
