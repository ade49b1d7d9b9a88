from pydantic import Field

from platform_server.schemas import InputSchema, Schema, UtcDatetime


class ApiKeyRead(Schema):
    id: str = Field(examples=["7390123456789012345"])
    name: str = Field(examples=["CI pipeline"])
    prefix: str = Field(description="The first characters of the key, to recognise it", examples=["plat_AbCdEfGh"])
    user_id: str = Field(examples=["7390123456789012340"])
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None = Field(
        default=None, description="Updated at most once a minute, so it may lag by that much"
    )
    revoked_at: UtcDatetime | None = None


class ApiKeyCreate(InputSchema):
    name: str = Field(min_length=1, max_length=200, examples=["CI pipeline"])


class ApiKeyCreated(Schema):
    api_key: ApiKeyRead
    key: str = Field(
        description="The secret key. It is shown this once and cannot be retrieved again.",
        examples=["plat_3q2-XkT0aY2cY7J8s0xQmKQ2yqg2b7kq9cB1y7wq3nE"],
    )
