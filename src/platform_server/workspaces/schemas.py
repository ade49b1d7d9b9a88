from pydantic import Field

from platform_server.schemas import InputSchema, PatchSchema, Schema, UtcDatetime


class WorkspaceRead(Schema):
    id: str = Field(examples=["7390123456789012345"])
    name: str = Field(examples=["Product"])
    description: str | None = Field(default=None, examples=["Roadmap and delivery"])
    created_at: UtcDatetime
    updated_at: UtcDatetime


class WorkspaceCreate(InputSchema):
    name: str = Field(min_length=1, max_length=200, examples=["Product"])
    description: str | None = Field(default=None, max_length=10_000, examples=["Roadmap and delivery"])


class WorkspaceUpdate(PatchSchema):
    not_nullable = ("name",)

    name: str | None = Field(default=None, min_length=1, max_length=200, examples=["Product (2027)"])
    description: str | None = Field(default=None, max_length=10_000, examples=["Roadmap and delivery for 2027"])
