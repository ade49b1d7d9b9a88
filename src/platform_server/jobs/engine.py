"""What runs jobs in a process: `serve`'s lifespan and the `worker` command both start here."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

from platform_server.jobs import tasks  # noqa: F401  (registers every task)
from platform_server.jobs.registry import JobResources
from platform_server.jobs.runner import InProcessRunner
from platform_server.jobs.worker import run_worker

SQLITE_WORKER_REFUSAL = (
    "SQLite runs jobs inside serve: `platform-server worker` needs PostgreSQL (DATABASE_URL=postgresql+asyncpg://…)"
)


class WorkerNeedsPostgres(Exception):
    def __init__(self) -> None:
        super().__init__(SQLITE_WORKER_REFUSAL)


@contextlib.asynccontextmanager
async def jobs_in_serve(resources: JobResources) -> AsyncIterator[InProcessRunner | None]:
    """SQLite: the in-process runner, always. PostgreSQL: a procrastinate worker when JOBS_WORKER_IN_SERVE
    (`serve --with-worker`), otherwise nothing — `serve` only enqueues and `worker` processes run the jobs.
    Yields the runner (SQLite) so tests can wait for it."""
    settings = resources.settings
    if settings.is_sqlite:
        runner = InProcessRunner(
            resources,
            concurrency=settings.JOBS_CONCURRENCY,
            stalled_after=settings.JOBS_STALLED_SECONDS,
            heartbeat_interval=max(0.5, settings.JOBS_STALLED_SECONDS / 3),
            shutdown_grace=settings.JOBS_SHUTDOWN_GRACE_SECONDS,
        )
        await runner.start()
        try:
            yield runner
        finally:
            await runner.aclose()
        return
    if not settings.JOBS_WORKER_IN_SERVE:
        yield None
        return
    worker = asyncio.create_task(
        run_worker(resources, concurrency=settings.JOBS_CONCURRENCY, install_signal_handlers=False),
        name="jobs-worker",
    )
    try:
        yield None
    finally:
        # procrastinate turns the cancellation into a graceful stop (running jobs get the grace period).
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def run_worker_process(resources: JobResources, *, concurrency: int, queues: Iterable[str] | None) -> None:
    """`platform-server worker`: a procrastinate worker on PostgreSQL until SIGTERM/SIGINT."""
    if resources.settings.is_sqlite:
        raise WorkerNeedsPostgres
    await run_worker(resources, concurrency=concurrency, queues=queues)
