from enum import StrEnum
from typing import Literal

from pydantic import Field

from platform_server.schemas import InputSchema, ObjectId, Schema, UtcDatetime


class SyncType(StrEnum):
    import_ = "import"
    export = "export"


class SyncRequest(InputSchema):
    sync_type: SyncType = Field(examples=["import"])
    workspace_id: ObjectId
    source_entity: str = Field(
        min_length=1,
        max_length=40,
        examples=["issues"],
        description="`issues`, `pull_requests` or `pages` for an import; `work_items` for an export",
    )
    target_entity: str = Field(
        min_length=1,
        max_length=40,
        examples=["work_items"],
        description="`work_items` or `features` for an import; `issues` for an export",
    )
    run_async: bool = Field(
        default=False,
        alias="async",
        examples=[False],
        description="Answer 202 at once and run in the background; follow it in the integration's syncLogs",
    )


class SyncResult(Schema):
    sync_log_id: str = Field(examples=["1701234567892"])
    status: Literal["completed", "failed"] = Field(examples=["completed"])
    items_synced: int = Field(examples=[15], description="Items created or changed by this run")
    duration: int = Field(examples=[1234], description="Milliseconds")


class SyncStarted(Schema):
    sync_log_id: str = Field(examples=["1701234567892"])
    status: Literal["running"] = Field(examples=["running"])


class SyncLogState(Schema):
    id: str = Field(examples=["1701234567892"])
    sync_type: str = Field(examples=["import"])
    source_entity: str | None = Field(examples=["issues"])
    target_entity: str | None = Field(examples=["work_items"])
    status: str = Field(
        examples=["cancelled"], description="`running` (queued or running), `completed`, `failed` or `cancelled`"
    )
    items_synced: int = Field(examples=[15], description="Items created or changed by this run")
    duration_ms: int | None = Field(examples=[1234])
    error: str | None = Field(examples=["Cancelled; the next sync resumes from the last committed page"])
    started_at: UtcDatetime = Field(examples=["2025-12-03T10:00:00Z"])
    finished_at: UtcDatetime | None = Field(examples=["2025-12-03T10:00:02Z"])
