"""The import engine: pages from an importer, one committed transaction per page, a cursor that survives.

Each page is written in its own transaction together with the run's log row (items so far, cursor, elapsed
time), so what is committed and where to continue can never disagree: a run that dies after page k leaves
pages 1..k and a cursor pointing past them, and the next run continues there. The bulk upsert on the source
key makes replaying the overlap harmless.

Every log write is fenced on `status = 'running'`: a run that was declared dead (server restart, stale
takeover) and is in fact still going cannot write another page after its successor started.

While a page is written, the next one is already being downloaded, so a sync costs little more than the
download itself; at most two pages are in memory.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.db import utcnow
from platform_server.ids import new_id
from platform_server.integrations.providers.client import ProviderClient, ProviderError
from platform_server.integrations.sync.base import TARGET_MODELS, Importer, ImportScope, Page, newest, parse_time
from platform_server.integrations.sync.repository import COMPLETED, FAILED, SyncRepository
from platform_server.log import get_logger
from platform_server.work_items.models import Priority

logger = get_logger(__name__)

Progress = Callable[[int, int, int | None], None]
"""Called after each committed page with (items synced so far, pages so far, all pages when the provider says)."""


class SyncAborted(Exception):
    """The run's log is no longer `running`: another process declared it dead; stop without writing."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a run continues: `high` is the newest provider update committed; `since` and `page` describe an
    unfinished pass of an importer that cannot restart from `high` (pages newest first)."""

    since: datetime | None = None
    high: datetime | None = None
    page: str | None = None

    @classmethod
    def load(cls, raw: str | None) -> "Cursor":
        if not raw:
            return cls()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        page = data.get("page")
        return cls(parse_time(data.get("since")), parse_time(data.get("high")), page if isinstance(page, str) else None)

    def dump(self) -> str:
        return orjson.dumps(
            {
                "since": self.since.isoformat() if self.since else None,
                "high": self.high.isoformat() if self.high else None,
                "page": self.page,
            }
        ).decode()


@dataclass(frozen=True, slots=True)
class ImportJob:
    log_id: str
    team_id: str
    workspace_id: str
    integration_id: str
    importer: Importer
    scope: ImportScope
    cursor: Cursor


@dataclass(frozen=True, slots=True)
class Outcome:
    log_id: str
    status: str
    items_synced: int
    duration_ms: int
    error: ProviderError | None = None


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class ImportEngine:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def run(
        self,
        job: ImportJob,
        client: ProviderClient,
        progress: Progress | None = None,
        *,
        hold: tuple[type[ProviderError], ...] = (),
    ) -> Outcome:
        """Runs the import to the end; provider failures end it `failed` (the outcome carries the error).

        Anything else (a bug, the database going away) also marks the log failed, then raises. Errors in `hold`
        and cancellation (a worker shutting down) leave the log running, for the job's next attempt to resume.
        """
        started = time.perf_counter()
        try:
            await self._pages(job, client, started, progress)
        except SyncAborted:
            return await self._outcome(job, FAILED, started, None)
        except hold:
            raise
        except asyncio.CancelledError:
            raise
        except ProviderError as exc:
            logger.warning("sync_failed", log_id=job.log_id, provider=exc.provider, error=exc.code)
            await self._finish(job, FAILED, started, exc.message)
            return await self._outcome(job, FAILED, started, exc)
        except BaseException:
            await record_failure(
                self._finish(job, FAILED, started, "Internal error; the next sync resumes from the last committed page")
            )
            raise
        await self._finish(job, COMPLETED, started, None)
        return await self._outcome(job, COMPLETED, started, None)

    async def _outcome(self, job: ImportJob, status: str, started: float, error: ProviderError | None) -> Outcome:
        async with self.sessionmaker() as session:
            log = await SyncRepository(session).get_log(job.log_id)
        if log is None:
            return Outcome(job.log_id, status, 0, _elapsed_ms(started), error)
        # A fenced-out run reports what ended it (cancelled, or failed by another).
        return Outcome(
            job.log_id, log.status if status == FAILED else status, log.items_synced, _elapsed_ms(started), error
        )

    async def _pages(self, job: ImportJob, client: ProviderClient, started: float, progress: Progress | None) -> int:
        importer = job.importer
        cursor = job.cursor
        if cursor.page is not None and not importer.ascending:
            since, resume = cursor.since, cursor.page
        else:
            since, resume = cursor.high, None
        high = cursor.high
        query_since = since - importer.overlap if since is not None else None
        synced = pages_done = 0
        async with _prefetching(importer.pages(client, job.scope, query_since, resume)) as next_page:
            while (page := await next_page()) is not None:
                rows = await self._prepare(job, client, page)
                high = newest(high, page.high)
                if importer.ascending or page.next_token is None:
                    cursor = Cursor(since=high, high=high)
                else:
                    cursor = Cursor(since=since, high=high, page=page.next_token)
                synced += await self._write(job, rows, cursor, _elapsed_ms(started))
                pages_done += 1
                if progress is not None:
                    total = pages_done + page.remaining if page.remaining is not None else None
                    progress(synced, pages_done, total)
        return synced

    async def _prepare(self, job: ImportJob, client: ProviderClient, page: Page) -> list[dict[str, Any]]:
        importer = job.importer
        rows = page.rows
        if importer.needs_completion and rows:
            # Details cost a request per item: fetch them only for items that are new or changed.
            async with self.sessionmaker() as session:
                known = await SyncRepository(session).known_versions(
                    TARGET_MODELS[importer.target_entity],
                    (job.workspace_id, job.integration_id, importer.source_entity),
                    [row["external_id"] for row in rows],
                )
            rows = [
                row
                for row in rows
                if row["external_id"] not in known or known[row["external_id"]] != row["source_updated_at"]
            ]
            await importer.complete(client, job.scope, rows)
        now = utcnow()
        fixed = {
            "team_id": job.team_id,
            "workspace_id": job.workspace_id,
            "integration_id": job.integration_id,
            "source_provider": importer.provider,
            "source_entity": importer.source_entity,
            "created_at": now,
            "updated_at": now,
        }
        if "priority" not in importer.columns:
            fixed["priority"] = Priority.none
        if importer.target_entity == "work_items" and "labels" not in importer.columns:
            fixed["labels"] = []
        return [{"id": new_id(), **fixed, **row} for row in rows]

    async def _write(self, job: ImportJob, rows: list[dict[str, Any]], cursor: Cursor, elapsed_ms: int) -> int:
        importer = job.importer
        async with self.sessionmaker() as session, session.begin():
            repository = SyncRepository(session)
            changed = await repository.upsert(TARGET_MODELS[importer.target_entity], importer.columns, rows)
            if not await repository.advance(job.log_id, changed, cursor.dump(), elapsed_ms):
                raise SyncAborted(job.log_id)
        return changed

    async def _finish(self, job: ImportJob, status: str, started: float, error: str | None) -> None:
        async with self.sessionmaker() as session, session.begin():
            repository = SyncRepository(session)
            finished = await repository.finish(job.log_id, status, _elapsed_ms(started), error)
            if finished and status == COMPLETED:
                await repository.touch_integration(job.integration_id)


async def record_failure(write: Coroutine[Any, Any, None]) -> None:
    """Writes a run's failure even while it is being cancelled (shutdown), without masking the original error."""
    with contextlib.suppress(Exception):
        await asyncio.shield(write)


@contextlib.asynccontextmanager
async def _prefetching(pages: AsyncIterator[Page]) -> AsyncIterator[Callable[[], Any]]:
    """Yields a function returning the next page (None at the end) while the one after is already fetched."""
    pending: asyncio.Future[Page | None] = asyncio.ensure_future(anext(pages, None))

    async def next_page() -> Page | None:
        nonlocal pending
        page = await pending
        if page is not None:
            pending = asyncio.ensure_future(anext(pages, None))
        return page

    try:
        yield next_page
    finally:
        if not pending.done():
            pending.cancel()
        with contextlib.suppress(BaseException):
            await pending
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(BaseException):
                await aclose()
