"""The tool-call audit: one row per call, written off the caller's path in batches, listed per workspace."""

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from platform_server.auth.principal import Principal
from platform_server.db import refused_for_its_values, utcnow
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
# Built once, on the table, and run on a connection of the engine: every tool call writes one row, and the
# ORM's unit of work would double the cost (an ORM session around the statement still adds a third).
_INSERT_TOOL_CALL = insert(ToolCall.metadata.tables[ToolCall.__tablename__])
_MAX_BATCH = 500
# How long the first row of a batch waits for others before the batch is written: one transaction per row
# costs several times a row of a batch of ten (on SQLite ~500 µs of CPU against ~80), and at a few hundred
# calls a second rows arrive milliseconds apart, one per batch, without it.
LINGER_SECONDS = 0.05
_MAX_PENDING = 10_000
# The pauses between the attempts of one write that failed for a reason outside its rows (about 40 s in all).
RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
SHUTDOWN_FLUSH_SECONDS = 10.0
# After the shutdown flush, how long a cancelled write may take to unwind.
_CANCEL_SECONDS = 2.0

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
    gateway call, and batches keep the cost flat under load. A batch starts `linger_seconds` after its first
    row was queued, or at once when someone flushes. The row's id is fixed when the call is queued.

    No row holds up the others. A write that fails for a reason outside its rows (the database away, a lock
    timeout) is retried with backoff for `retry_seconds`, then given up. A batch the database refuses for its
    values (a constraint, text it cannot store) is written row by row, and each refused row is dropped with a
    log line naming the reason, never the values. A full queue makes callers wait. `flush` waits until every row
    queued before it is stored or given up, so a process lists its own calls (listings bound that wait);
    shutdown flushes for at most `shutdown_seconds`. A crash loses what is still queued, at most the linger's
    worth, as it would lose a call whose provider request was still in flight.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        retry_seconds: Sequence[float] = RETRY_SECONDS,
        shutdown_seconds: float = SHUTDOWN_FLUSH_SECONDS,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._engine = engine
        self._linger_seconds = linger_seconds
        self._retry_seconds = tuple(retry_seconds)
        self._shutdown_seconds = shutdown_seconds
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=_MAX_PENDING)
        self._task: asyncio.Task[None] | None = None
        # Counters rather than `Queue.join`, which under steady traffic might never see the queue empty.
        self._queued = 0
        self._settled = 0
        self._progress = asyncio.Event()
        # Set while a flush waits for rows not yet stored: the writer then skips the linger.
        self._flush_target = 0
        self._hurry = asyncio.Event()

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
                "oauth_client_id": principal.oauth_client_id,
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
        self._queued += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-writer")
        return tool_call_id

    async def flush(self) -> None:
        """Returns once every row queued before the call is stored or given up (bound it with asyncio.timeout)."""
        target = self._queued
        if self._settled < target:
            self._flush_target = max(self._flush_target, target)
            self._hurry.set()
        while self._settled < target:
            await self._progress.wait()

    async def aclose(self) -> None:
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(self._shutdown_seconds):
                await self.flush()
        except TimeoutError:
            logger.error("audit_rows_not_stored_at_shutdown", rows=self._queued - self._settled)
        task.cancel()
        # Bounded too: a write stuck on a dead connection must not keep the process from exiting.
        _, pending = await asyncio.wait({task}, timeout=_CANCEL_SECONDS)
        if pending:
            logger.error("audit_writer_not_stopped", rows=self._queued - self._settled)
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._linger_seconds):
                    await self._hurry.wait()
            while len(batch) < _MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._store(batch)
            except Exception as exc:
                # A bug here must not end the task: every later row (and every flush) would wait for ever.
                logger.error("audit_rows_dropped", rows=len(batch), reason=_reason(exc))
            self._settled += len(batch)
            if self._settled >= self._flush_target:
                self._hurry.clear()
            self._progress.set()
            self._progress = asyncio.Event()

    async def _store(self, batch: list[dict[str, Any]]) -> None:
        failure = await self._insert(batch)
        if failure is None:
            return
        if not _refused_rows(failure):
            logger.error("audit_rows_dropped", rows=len(batch), reason=_reason(failure))
            return
        for index, row in enumerate(batch):
            failure = await self._insert([row])
            if failure is None:
                continue
            if not _refused_rows(failure):
                logger.error("audit_rows_dropped", rows=len(batch) - index, reason=_reason(failure))
                return
            if isinstance(failure, IntegrityError):
                # The workspace (and with it its audit) was deleted after the call.
                logger.warning("audit_row_without_workspace", tool_call_id=row["id"], workspace_id=row["workspace_id"])
            else:
                logger.error("audit_row_dropped", tool_call_id=row["id"], reason=_reason(failure))

    async def _insert(self, rows: list[dict[str, Any]]) -> Exception | None:
        """Answers None once stored, or the failure: at once when the rows are refused, else after the retries."""
        attempt = 0
        while True:
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(_INSERT_TOOL_CALL, rows)
            except Exception as exc:
                if _refused_rows(exc) or attempt == len(self._retry_seconds):
                    return exc
                delay = self._retry_seconds[attempt]
                attempt += 1
                logger.warning("audit_write_failed", rows=len(rows), retry_in_seconds=delay, reason=_reason(exc))
                await asyncio.sleep(delay)
            else:
                return None


def _refused_rows(exc: Exception) -> bool:
    """Whether the rows themselves are refused (a constraint, a value), so that no retry can store them."""
    return isinstance(exc, IntegrityError) or refused_for_its_values(exc)


def _reason(exc: Exception) -> str:
    """The failure's classes (and SQLSTATE), never its message: messages quote the values."""
    reason = type(exc).__name__
    cause = getattr(exc, "orig", None)
    if isinstance(cause, BaseException):
        reason += f"({type(cause.__cause__ or cause).__name__})"
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            reason += f" SQLSTATE {sqlstate}"
    return reason


class AuditService:
    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        workspace_id: str,
        tool: str | None,
        outcome: ToolCallOutcome | None,
        params: PageParams,
    ) -> tuple[Sequence[ToolCall], int]:
        if await WorkspaceRepository(session, principal.team_id).get(workspace_id) is None:
            raise ResourceNotFound("Workspace", workspace_id)
        return await ToolCallRepository(session, principal.team_id).list_page(workspace_id, tool, outcome, params)


audit_service = AuditService()
