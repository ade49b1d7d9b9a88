"""Export: the workspace's work items that are linked to nothing become issues at GitHub, Jira or Linear.

Creating an issue is not idempotent at any of the three, so a create is never retried blindly (the provider
client retries writes only on a rate-limit answer, which guarantees nothing was done). Each created issue is
linked to its work item and committed at once: a run that stops loses at most the one in flight, and the next
export skips every item already linked, so a second export creates nothing.
"""

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.integrations.providers.client import ProviderClient, ProviderError
from platform_server.integrations.sync.base import Exporter, ImportScope
from platform_server.integrations.sync.engine import Outcome, Progress, SyncAborted, record_failure
from platform_server.integrations.sync.repository import COMPLETED, FAILED, ExportRepository, SyncRepository
from platform_server.log import get_logger

logger = get_logger(__name__)
BATCH = 100
MAX_WARNINGS = 50


@dataclass(frozen=True, slots=True)
class ExportJob:
    log_id: str
    team_id: str
    workspace_id: str
    integration_id: str
    provider: str
    exporter: Exporter
    scope: ImportScope


class ExportEngine:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def run(
        self,
        job: ExportJob,
        client: ProviderClient,
        progress: Progress | None = None,
        *,
        hold: tuple[type[ProviderError], ...] = (),
    ) -> Outcome:
        started = time.perf_counter()
        created = 0
        warnings: list[str] = []
        try:
            created = await self._export(job, client, started, progress, warnings)
        except SyncAborted:
            return Outcome(job.log_id, FAILED, created, _elapsed_ms(started))
        except hold:
            raise
        except asyncio.CancelledError:
            raise
        except ProviderError as exc:
            logger.warning("export_failed", log_id=job.log_id, provider=exc.provider, error=exc.code)
            # A write that failed without a clear answer may still have created the issue: say so.
            await self._finish(job, FAILED, started, exc.message)
            return Outcome(job.log_id, FAILED, created, _elapsed_ms(started), exc)
        except BaseException:
            await record_failure(self._finish(job, FAILED, started, "Interrupted before it finished"))
            raise
        # A completed run keeps what the provider silently left out in its log's `error`, as a warning.
        await self._finish(job, COMPLETED, started, "\n".join(warnings[:MAX_WARNINGS]) or None)
        return Outcome(job.log_id, COMPLETED, created, _elapsed_ms(started))

    async def _export(
        self, job: ExportJob, client: ProviderClient, started: float, progress: Progress | None, warnings: list[str]
    ) -> int:
        created = batches = 0
        after: str | None = None
        total: int | None = None
        if progress is not None:
            async with self.sessionmaker() as session:
                waiting = await ExportRepository(session, job.team_id).count_unlinked(job.workspace_id)
            total = -(-waiting // BATCH)
        while True:
            async with self.sessionmaker() as session:
                items = await ExportRepository(session, job.team_id).unlinked(job.workspace_id, after, BATCH)
            if not items:
                return created
            for item in items:
                link = await job.exporter.create(client, job.scope, item)
                warning = link.pop("warning", None)
                if warning:
                    logger.warning("export_warning", log_id=job.log_id, provider=job.provider, warning=warning)
                    warnings.append(str(warning))
                async with self.sessionmaker() as session, session.begin():
                    linked = await ExportRepository(session, job.team_id).link(
                        item.id,
                        {
                            **link,
                            "integration_id": job.integration_id,
                            "source_provider": job.provider,
                            "source_entity": "issues",
                        },
                    )
                    if not await SyncRepository(session).advance(job.log_id, int(linked), None, _elapsed_ms(started)):
                        raise SyncAborted(job.log_id)
                created += int(linked)
            after = items[-1].id
            batches += 1
            if progress is not None:
                progress(created, batches, total)

    async def _finish(self, job: ExportJob, status: str, started: float, error: str | None) -> None:
        async with self.sessionmaker() as session, session.begin():
            repository = SyncRepository(session)
            if await repository.finish(job.log_id, status, _elapsed_ms(started), error) and status == COMPLETED:
                await repository.touch_integration(job.integration_id)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
