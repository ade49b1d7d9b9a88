"""procrastinate on PostgreSQL: the registered tasks as procrastinate tasks, and the worker loop.

Each registered task becomes a procrastinate task of the same name and queue whose retry strategy is ours
(exponential backoff up to `max_attempts`; `RetryLater` chooses its own delay); a periodic one is also
registered with procrastinate's periodic deferrer (one job per cron tick, whichever worker defers it).

Stalled jobs: every worker beats its heartbeat; each worker also checks, every few seconds, for running jobs
whose worker stopped beating for `JOBS_STALLED_SECONDS` (a process killed with -9, a machine gone) and puts
them back in the queue, where any worker picks them up. The task itself (a sync) then resumes from what the
dead attempt committed.
"""

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import procrastinate
from procrastinate import builtin_tasks
from procrastinate.app import WorkerOptions
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job as ProcrastinateJob
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy.engine import make_url

from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.jobs.registry import TASKS, JobContext, JobResources, RetryLater, TaskDefinition
from platform_server.jobs.runner import backoff
from platform_server.log import get_logger
from platform_server.metrics.registry import JobFailure, record_job_failure

logger = get_logger(__name__)

RESOURCES_KEY = "platform_resources"
RETENTION_TASK = "jobs.remove_old_jobs"
RETENTION_CRON = "17 * * * *"


def psycopg_conninfo(database_url: str) -> str:
    """The SQLAlchemy asyncpg URL as the libpq URL psycopg takes."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class TaskRetryStrategy(BaseRetryStrategy):
    def __init__(self, settings: Settings, max_attempts: int) -> None:
        self.settings = settings
        self.max_attempts = max_attempts

    def get_retry_decision(self, *, exception: BaseException, job: ProcrastinateJob) -> RetryDecision | None:
        attempt = job.attempts + 1
        if attempt >= self.max_attempts:
            return None
        delay = exception.delay if isinstance(exception, RetryLater) else backoff(self.settings, attempt)
        return RetryDecision(retry_at=utcnow() + max(delay, timedelta(0)))


def build_app(settings: Settings, *, pool_size: int = 4) -> procrastinate.App:
    connector = procrastinate.PsycopgConnector(
        conninfo=psycopg_conninfo(settings.DATABASE_URL), min_size=1, max_size=pool_size
    )
    app = procrastinate.App(connector=connector)
    for definition in TASKS.values():
        _register(app, settings, definition)
    _register_retention(app, settings)
    return app


def _register_retention(app: procrastinate.App, settings: Settings) -> None:
    """procrastinate's own `remove_old_jobs`, hourly: jobs that ended more than JOBS_RETENTION_HOURS ago go,
    with their events, whatever their final status. (SQLite's queue is trimmed by `maintenance.delete_expired`.)
    """

    @app.periodic(cron=RETENTION_CRON, periodic_id=RETENTION_TASK)
    @app.task(name=RETENTION_TASK, queue="maintenance", queueing_lock=RETENTION_TASK, pass_context=True)
    async def remove_old_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
        await builtin_tasks.remove_old_jobs(
            context,
            max_hours=settings.JOBS_RETENTION_HOURS,
            remove_failed=True,
            remove_cancelled=True,
            remove_aborted=True,
        )


def _register(app: procrastinate.App, settings: Settings, definition: TaskDefinition) -> None:
    async def run(context: procrastinate.JobContext, /, **arguments: Any) -> None:
        if definition.periodic is not None:
            # procrastinate passes the tick's timestamp to periodic tasks; ours take no arguments.
            arguments.pop("timestamp", None)
        resources: JobResources = context.additional_context[RESOURCES_KEY]
        job = context.job
        try:
            await definition.function(JobContext(resources, str(job.id), job.attempts + 1), **arguments)
        except RetryLater:
            record_job_failure(definition.name, JobFailure.retry_later)
            raise
        except Exception:
            record_job_failure(definition.name, JobFailure.error)
            raise

    task = app.task(
        name=definition.name,
        queue=definition.queue,
        retry=TaskRetryStrategy(settings, definition.max_attempts),
        pass_context=True,
    )(run)
    if definition.periodic is not None:
        # Typed for tasks taking the tick's timestamp as a parameter; `run` takes it from **arguments.
        app.periodic(cron=definition.periodic, periodic_id=definition.name)(task)  # type: ignore[arg-type]


async def run_worker(
    resources: JobResources,
    *,
    concurrency: int,
    queues: Iterable[str] | None = None,
    install_signal_handlers: bool = True,
    wait: bool = True,
) -> None:
    """Runs a procrastinate worker until stopped (SIGTERM/SIGINT, or cancellation): running jobs get
    JOBS_SHUTDOWN_GRACE_SECONDS to finish, then are aborted and go back to the queue. `wait=False`: until no
    job is due (tests, one-off runs)."""
    settings = resources.settings
    app = build_app(settings, pool_size=min(concurrency, 8) + 2)
    stalled = settings.JOBS_STALLED_SECONDS
    async with app.open_async():
        recovery = asyncio.create_task(_recover_stalled(app, stalled), name="jobs-stalled-recovery")
        try:
            options: WorkerOptions = {
                "name": f"{socket.gethostname()}-{os.getpid()}",
                "concurrency": concurrency,
                "additional_context": {RESOURCES_KEY: resources},
                "install_signal_handlers": install_signal_handlers,
                "wait": wait,
                # A worker that stops once the queue is empty has no use for notifications of new jobs.
                "listen_notify": wait,
                "update_heartbeat_interval": max(0.5, stalled / 3),
                "stalled_worker_timeout": stalled,
                "shutdown_graceful_timeout": settings.JOBS_SHUTDOWN_GRACE_SECONDS,
            }
            if queues:
                options["queues"] = list(queues)
            await app.run_worker_async(**options)
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery


async def _recover_stalled(app: procrastinate.App, stalled_seconds: float) -> None:
    while True:
        await asyncio.sleep(max(0.5, stalled_seconds / 3))
        try:
            await retry_stalled_jobs(app, stalled_seconds)
        except ConnectorException as exc:
            logger.warning("jobs_stalled_check_failed", error=repr(exc))


async def retry_stalled_jobs(app: procrastinate.App, stalled_seconds: float) -> int:
    """Puts back in the queue the running jobs of workers silent for `stalled_seconds`."""
    retried = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds):
        try:
            await app.job_manager.retry_job(job)
        except ConnectorException:
            # Another worker retried it first.
            continue
        retried += 1
        record_job_failure(job.task_name, JobFailure.stalled)
        logger.warning("job_stalled_retried", job_id=job.id, task=job.task_name, worker_id=job.worker_id)
    return retried
