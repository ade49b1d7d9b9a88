"""The tool-call audit: one row per call, written off the caller's path in batches, listed per workspace."""

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.auth.principal import Principal
from platform_server.db import utcnow
from platform_server.errors import ResourceNotFound
from platform_server.gateway.models import ToolCall, ToolCallChannel, ToolCallOutcome
from platform_server.gateway.repository import ToolCallRepository
from platform_server.ids import new_id
from platform_server.log import get_logger
from platform_server.pagination import PageParams
from platform_server.workspaces.repository import WorkspaceRepository

# Tool names come from the client; anything longer than the MCP limit is cut rather than refused.
_MAX_TOOL_NAME = 128
_MAX_ARGUMENT_NAMES = 50
_MAX_ARGUMENT_NAME_LENGTH = 100
# Built once, on the table: every tool call writes one row, and the ORM's unit of work would double the cost.
_INSERT_TOOL_CALL = insert(ToolCall.metadata.tables[ToolCall.__tablename__])
_MAX_BATCH = 500
_MAX_PENDING = 10_000
_RETRY_SECONDS = (0.1, 0.5, 2.0, 5.0)
_SHUTDOWN_FLUSH_SECONDS = 10.0

logger = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    principal: Principal
    workspace_id: str
    tool: str
    provider: str | None
    integration_id: str | None
    channel: ToolCallChannel
    outcome: ToolCallOutcome
    error_code: str | None
    argument_names: Sequence[str]
    duration_ms: int


def argument_names(arguments: object) -> list[str]:
    """The names only: values may hold customer data and are never recorded."""
    if not isinstance(arguments, dict):
        return []
    names: Iterable[str] = (str(name)[:_MAX_ARGUMENT_NAME_LENGTH] for name in arguments)
    return sorted(names)[:_MAX_ARGUMENT_NAMES]


class AuditWriter:
    """Stores audit rows off the caller's path: queued, then inserted in batches by one task per process.

    A tool call waits for its provider, not for its audit row: on SQLite the row's own commit is a fifth of a
    gateway call, and batches keep the cost flat under load. The row's id is fixed when the call is queued.
    Nothing is dropped: a failed batch is retried with backoff (a row whose workspace was deleted meanwhile is
    the one exception: its row would have been deleted with it); a full queue makes callers wait. `flush`
    returns once everything queued so far is stored, so a process always lists its own calls; shutdown
    flushes. A crash loses what is still queued, a few milliseconds' worth, as it would lose a call whose
    provider request was still in flight.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=_MAX_PENDING)
        self._task: asyncio.Task[None] | None = None

    async def record(self, entry: AuditEntry) -> str:
        """Queues the call's row; answers its id."""
        tool_call_id = new_id()
        principal = entry.principal
        await self._queue.put(
            {
                "id": tool_call_id,
                "team_id": principal.team_id,
                "workspace_id": entry.workspace_id,
                "integration_id": entry.integration_id,
                "user_id": principal.user_id,
                "api_key_id": principal.api_key_id,
                "tool": entry.tool[:_MAX_TOOL_NAME],
                "provider": entry.provider,
                "channel": entry.channel,
                "outcome": entry.outcome,
                "error_code": entry.error_code,
                "argument_names": list(entry.argument_names),
                "duration_ms": entry.duration_ms,
                "created_at": utcnow(),
            }
        )
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-writer")
        return tool_call_id

    async def flush(self) -> None:
        await self._queue.join()

    async def aclose(self) -> None:
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self.flush(), _SHUTDOWN_FLUSH_SECONDS)
        except TimeoutError:
            logger.error("audit_rows_not_stored_at_shutdown", rows=self._queue.qsize())
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._store(batch)
            for _ in batch:
                self._queue.task_done()

    async def _store(self, batch: list[dict[str, Any]]) -> None:
        try:
            await self._insert_retrying(batch)
        except IntegrityError:
            for row in batch:
                try:
                    await self._insert_retrying([row])
                except IntegrityError:
                    # The workspace (and with it its audit) was deleted after the call.
                    logger.warning(
                        "audit_row_without_workspace", tool_call_id=row["id"], workspace_id=row["workspace_id"]
                    )

    async def _insert_retrying(self, rows: list[dict[str, Any]]) -> None:
        """Retries everything but a constraint violation, which no retry can fix."""
        attempt = 0
        while True:
            try:
                async with self._sessionmaker() as session, session.begin():
                    await session.execute(_INSERT_TOOL_CALL, rows)
                return
            except IntegrityError:
                raise
            except Exception:
                delay = _RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)]
                logger.exception("audit_write_failed", rows=len(rows), retry_in_seconds=delay)
                attempt += 1
                await asyncio.sleep(delay)


class AuditService:
    async def list(
        self,
        session: AsyncSession,
        writer: AuditWriter,
        principal: Principal,
        workspace_id: str,
        tool: str | None,
        outcome: ToolCallOutcome | None,
        params: PageParams,
    ) -> tuple[Sequence[ToolCall], int]:
        if await WorkspaceRepository(session, principal.team_id).get(workspace_id) is None:
            raise ResourceNotFound("Workspace", workspace_id)
        await writer.flush()
        return await ToolCallRepository(session, principal.team_id).list_page(workspace_id, tool, outcome, params)


audit_service = AuditService()
