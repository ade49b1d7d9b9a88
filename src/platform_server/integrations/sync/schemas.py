from enum import StrEnum
from typing import Literal

from pydantic import Field

from platform_server.schemas import InputSchema, ObjectId, Schema


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
