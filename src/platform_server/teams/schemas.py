from typing import Literal

from pydantic import Field

from platform_server.schemas import Schema, UtcDatetime


class UserRead(Schema):
    id: str = Field(examples=["7390123456789012340"])
    email: str = Field(examples=["ada@acme.dev"])
    name: str = Field(examples=["Ada Lovelace"])
    role: Literal["owner", "admin", "member"] = Field(examples=["owner"])
    created_at: UtcDatetime


class TeamRead(Schema):
    id: str = Field(examples=["7390123456789012339"])
    name: str = Field(examples=["Acme"])
    plan: Literal["free", "pro"] = Field(examples=["free"])
    created_at: UtcDatetime


class PlanRead(Schema):
    name: Literal["free", "pro"] = Field(examples=["free"])
    requests_per_minute: int = Field(examples=[100])
    ai_messages_per_month: int = Field(examples=[50])
    ai_messages_scope: Literal["team", "user"] = Field(
        description="Whether the monthly AI message allowance is shared by the team or given to each user",
        examples=["team"],
    )


class MeRead(Schema):
    user: UserRead
    team: TeamRead
    plan: PlanRead
