from pydantic import Field

from platform_server.features.models import FeatureStatus
from platform_server.schemas import InputSchema, ObjectId, PatchSchema, UtcDatetime
from platform_server.work_items.models import Priority
from platform_server.work_items.schemas import SourceFields


class FeatureRead(SourceFields):
    id: str = Field(examples=["7390123456789012370"])
    workspace_id: str = Field(examples=["7390123456789012345"])
    title: str = Field(examples=["Single sign-on"])
    description: str | None = Field(default=None, examples=["SAML and OIDC for enterprise teams"])
    status: FeatureStatus = Field(examples=["planned"])
    priority: Priority = Field(examples=["high"])
    url: str | None = Field(default=None, examples=["https://www.notion.so/acme/Single-sign-on-0f3c"])
    created_at: UtcDatetime
    updated_at: UtcDatetime


class FeatureCreate(InputSchema):
    workspace_id: ObjectId
    title: str = Field(min_length=1, max_length=500, examples=["Single sign-on"])
    description: str | None = Field(default=None, max_length=100_000, examples=["SAML and OIDC for enterprise teams"])
    status: FeatureStatus = FeatureStatus.backlog
    priority: Priority = Priority.none
    url: str | None = Field(default=None, max_length=2000, examples=["https://www.notion.so/acme/Single-sign-on-0f3c"])


class FeatureUpdate(PatchSchema):
    not_nullable = ("title", "status", "priority")

    title: str | None = Field(default=None, min_length=1, max_length=500, examples=["Single sign-on (SAML)"])
    description: str | None = Field(default=None, max_length=100_000, examples=["SAML first, OIDC later"])
    status: FeatureStatus | None = Field(default=None, examples=["in_progress"])
    priority: Priority | None = None
    url: str | None = Field(default=None, max_length=2000, examples=["https://www.notion.so/acme/Single-sign-on-0f3c"])
