from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from platform_server.auth.schemas import ApiKeyRead
from platform_server.schemas import InputSchema, Schema, UtcDatetime


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


def normalise_email(value: str) -> str:
    value = value.strip()
    local, at, domain = value.partition("@")
    if not at or not local or not domain or "@" in domain or any(char.isspace() for char in value):
        raise ValueError("must be an email address like ada@acme.dev")
    return value.lower()


Email = Annotated[
    str, Field(min_length=3, max_length=320, examples=["grace@acme.dev"]), AfterValidator(normalise_email)
]


class UserCreate(InputSchema):
    email: Email
    name: str = Field(min_length=1, max_length=200, examples=["Grace Hopper"])
    role: Literal["owner", "admin", "member"] = Field(
        default="member", description="Only an owner can add another owner", examples=["member"]
    )


class UserCreated(Schema):
    user: UserRead
    api_key: ApiKeyRead
    key: str = Field(
        description="The new user's first API key. It is shown this once and cannot be retrieved again.",
        examples=["plat_3q2-XkT0aY2cY7J8s0xQmKQ2yqg2b7kq9cB1y7wq3nE"],
    )
