from typing import Annotated

from pydantic import Field, StringConstraints

from platform_server.schemas import InputSchema, ObjectId, PatchSchema, Schema, UtcDatetime
from platform_server.work_items.models import Priority, WorkItemStatus

Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class SourceFields(Schema):
    """Where an imported item came from; all null for items created here."""

    integration_id: str | None = Field(default=None, examples=["7390123456789012350"])
    source_provider: str | None = Field(default=None, examples=["github"])
    source_entity: str | None = Field(default=None, examples=["issues"])
    external_id: str | None = Field(default=None, examples=["1899300021"])
    source_created_at: UtcDatetime | None = None
    source_updated_at: UtcDatetime | None = None


class WorkItemRead(SourceFields):
    id: str = Field(examples=["7390123456789012360"])
    workspace_id: str = Field(examples=["7390123456789012345"])
    title: str = Field(examples=["Checkout fails on Safari"])
    description: str | None = Field(default=None, examples=["Steps to reproduce: …"])
    status: WorkItemStatus = Field(examples=["todo"])
    priority: Priority = Field(examples=["high"])
    key: str | None = Field(default=None, examples=["acme/product#12"])
    url: str | None = Field(default=None, examples=["https://github.com/acme/product/issues/12"])
    labels: list[str] = Field(default_factory=list, examples=[["bug", "checkout"]])
    assignee: str | None = Field(default=None, examples=["octocat"])
    created_at: UtcDatetime
    updated_at: UtcDatetime


class WorkItemCreate(InputSchema):
    workspace_id: ObjectId
    title: str = Field(min_length=1, max_length=500, examples=["Checkout fails on Safari"])
    description: str | None = Field(default=None, max_length=100_000, examples=["Steps to reproduce: …"])
    status: WorkItemStatus = WorkItemStatus.todo
    priority: Priority = Priority.none
    labels: list[Label] = Field(default_factory=list, max_length=50, examples=[["bug"]])
    assignee: str | None = Field(default=None, max_length=255, examples=["octocat"])
    url: str | None = Field(default=None, max_length=2000, examples=["https://github.com/acme/product/issues/12"])


class WorkItemUpdate(PatchSchema):
    not_nullable = ("title", "status", "priority", "labels")

    title: str | None = Field(default=None, min_length=1, max_length=500, examples=["Checkout fails on Safari 18"])
    description: str | None = Field(default=None, max_length=100_000, examples=["Only with Apple Pay"])
    status: WorkItemStatus | None = Field(default=None, examples=["in_progress"])
    priority: Priority | None = None
    labels: list[Label] | None = Field(default=None, max_length=50, examples=[["bug", "safari"]])
    assignee: str | None = Field(default=None, max_length=255, examples=["octocat"])
    url: str | None = Field(default=None, max_length=2000, examples=["https://github.com/acme/product/issues/12"])
