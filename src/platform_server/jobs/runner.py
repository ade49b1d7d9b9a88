"""The in-process runner (SQLite): runs the registered tasks from our `jobs` table inside `serve`.

The same rules as procrastinate's workers on PostgreSQL: a job is claimed by one conditional update (todo →
doing), at most one job per `lock` runs at a time (the claim skips locked ones, and a unique index over running
locks settles two processes racing), failed attempts are retried with exponential backoff up to the task's
`max_attempts`, `RetryLater` sets the next attempt's time itself, periodic tasks are deferred once per cron
tick (a unique key per tick), and a running job's row carries a heartbeat: a job whose heartbeat stopped
(its process died) goes back to the queue, at startup and periodically.

At shutdown running jobs get a grace period to finish, then are cancelled and go back to the queue.
"""

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]
from sqlalchemy import Update, bindparam, literal, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import UpdateBase

from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.ids import new_id
from platform_server.jobs.models import Job, JobStatus
from platform_server.jobs.queue import on_commit_of_deferred_jobs
from platform_server.jobs.registry import TASKS, JobContext, JobResources, RetryLater, TaskDefinition
from platform_server.log import get_logger
from platform_server.metrics.registry import JobFailure, record_job_failure
from platform_server.sqlite_inline import PreparedStatement, PreparedTransaction

logger = get_logger(__name__)

MAX_BACKOFF_SECONDS = 300

_doing = Job.status == JobStatus.doing.value
# A running job's last writes, built once: every job ends with one of them.
_END = PreparedStatement(
    update(Job)
    .where(Job.id == bindparam("job_id"), _doing)
    .values(status=bindparam("status"), finished_at=bindparam("now"), error=bindparam("error"))
)
_RETRY = PreparedStatement(
    update(Job)
    .where(Job.id == bindparam("job_id"), _doing)
    .values(status=JobStatus.todo.value, scheduled_at=bindparam("at"), error=bindparam("error"), heartbeat_at=None)
)
_RELEASE = PreparedStatement(
    update(Job)
    .where(Job.id == bindparam("job_id"), _doing)
    .values(status=JobStatus.todo.value, scheduled_at=bindparam("at"), heartbeat_at=None)
)


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    task_name: str
    arguments: dict[str, Any]
    lock: str | None
    # Attempts started, this one included.
    attempts: int


def backoff(settings: Settings, attempt: int) -> timedelta:
    """The wait before retrying a job whose attempt `attempt` (1-based) raised: JOBS_RETRY_BACKOFF_SECONDS,
    then twice as long each time, capped."""
    return timedelta(seconds=min(settings.JOBS_RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))


class InProcessRunner:
    def __init__(
        self,
        resources: JobResources,
        *,
        concurrency: int,
        queues: list[str] | None = None,
        poll_interval: float = 1.0,
        heartbeat_interval: float = 10.0,
        stalled_after: float = 30.0,
        shutdown_grace: float = 10.0,
    ) -> None:
        self.resources = resources
        self.concurrency = concurrency
        self.queues = queues
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.stalled_after = stalled_after
        self.shutdown_grace = shutdown_grace
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        # Running jobs that hold a lock: a job waiting for it may start when one ends.
        self._holding_lock: set[str] = set()
        self._claiming = False
        # (the task names it was built for, the claim): tasks registered later (tests) build it again.
        self._claim_statement: tuple[tuple[str, ...], PreparedStatement[UpdateBase]] | None = None
        # (the task names it was computed for, when the next cron tick of any periodic task falls): until then the
        # periodic check has nothing new to defer.
        self._next_tick: tuple[tuple[str, ...], float] = ((), 0.0)
        self._loop_task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._started_at = time.time()

    async def start(self) -> None:
        await self.recover_stalled()
        self._unsubscribe = on_commit_of_deferred_jobs(self._wake.set)
        self._started_at = time.time()
        self._loop_task = asyncio.create_task(self._loop(), name="jobs-runner")

    async def aclose(self) -> None:
        """Stops claiming; running jobs get `shutdown_grace` seconds, then are cancelled and released."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stopping.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=self.shutdown_grace)
        for task in list(self._running.values()):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def drain(self) -> None:
        """Until no job is due or running (tests)."""
        while True:
            self._wake.set()
            await asyncio.sleep(0)
            if self._running:
                await asyncio.gather(*self._running.values(), return_exceptions=True)
                continue
            if self._claiming:
                # A job claimed (no longer waiting in the table) but not yet running here.
                await asyncio.sleep(0.01)
                continue
            async with self.resources.sessionmaker() as session:
                due = await session.scalar(
                    select(Job.id).where(Job.status == JobStatus.todo.value, Job.scheduled_at <= utcnow()).limit(1)
                )
            if due is None:
                return
            await asyncio.sleep(0.05)

    async def _loop(self) -> None:
        last_maintenance = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if time.monotonic() - last_maintenance >= self.heartbeat_interval:
                    last_maintenance = time.monotonic()
                    await self._beat()
                    await self.recover_stalled()
                await self._defer_periodic()
                while len(self._running) < self.concurrency and not self._stopping.is_set():
                    self._claiming = True
                    try:
                        job = await self._claim()
                        if job is None:
                            break
                        task = asyncio.create_task(self._run(job), name=f"job-{job.task_name}-{job.id}")
                        self._running[job.id] = task
                        if job.lock is not None:
                            self._holding_lock.add(job.id)
                        task.add_done_callback(self._finished)
                    finally:
                        self._claiming = False
            except Exception as exc:
                # A locked or unreachable database: try again at the next tick rather than stop running jobs.
                logger.warning("jobs_runner_tick_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await _first(self._wake.wait(), self._stopping.wait())

    def _finished(self, task: asyncio.Task[None]) -> None:
        job_id = task.get_name().rsplit("-", 1)[-1]
        was_full = len(self._running) >= self.concurrency
        self._running.pop(job_id, None)
        # A freed slot (all were taken) or lock may let a waiting job start. Otherwise any job waiting was claimed
        # already, and a claim that finds none costs a write transaction.
        if was_full or job_id in self._holding_lock:
            self._wake.set()
        self._holding_lock.discard(job_id)

    async def _claim(self) -> ClaimedJob | None:
        """The next due job, taken in one statement: the oldest waiting one whose lock is free, marked running."""
        task_names = tuple(TASKS)
        if self._claim_statement is None or self._claim_statement[0] != task_names:
            self._claim_statement = (task_names, PreparedStatement(_claim_statement(task_names, self.queues)))
        try:
            async with PreparedTransaction.begin(self.resources.engine) as transaction:
                rows = await transaction.rows(self._claim_statement[1], {"now": utcnow()})
        except IntegrityError:
            # Another process started a job with the same lock in the meantime.
            return None
        if not rows:
            return None
        row = rows[0]
        return ClaimedJob(row["id"], row["task_name"], row["arguments"], row["lock"], row["attempts"])

    async def _run(self, job: ClaimedJob) -> None:
        definition = TASKS[job.task_name]
        context = JobContext(self.resources, job.id, job.attempts)
        try:
            await definition.function(context, **job.arguments)
        except asyncio.CancelledError:
            await _shielded(self._release(job))
            raise
        except RetryLater as exc:
            record_job_failure(job.task_name, JobFailure.retry_later)
            await self._retry_or_fail(job, definition, exc.delay, exc.reason)
        except Exception as exc:
            logger.exception("job_failed", job_id=job.id, task=job.task_name, attempt=job.attempts)
            record_job_failure(job.task_name, JobFailure.error)
            await self._retry_or_fail(
                job, definition, backoff(self.resources.settings, job.attempts), f"{type(exc).__name__}: {exc}"
            )
        else:
            await self._end(job, JobStatus.succeeded, None)

    async def _retry_or_fail(self, job: ClaimedJob, definition: TaskDefinition, delay: timedelta, reason: str) -> None:
        if job.attempts >= definition.max_attempts:
            await self._end(job, JobStatus.failed, reason)
            return
        await self._write(_RETRY, {"job_id": job.id, "at": utcnow() + delay, "error": reason})
        # Back in the queue, maybe due at once.
        self._wake.set()

    async def _end(self, job: ClaimedJob, status: JobStatus, error: str | None) -> None:
        await self._write(_END, {"job_id": job.id, "status": status.value, "now": utcnow(), "error": error})

    async def _release(self, job: ClaimedJob) -> None:
        """Back to the queue without waiting: interrupted by a shutdown, not by its own failure."""
        await self._write(_RELEASE, {"job_id": job.id, "at": utcnow()})

    async def _write(self, statement: PreparedStatement[UpdateBase], values: dict[str, Any]) -> None:
        async with PreparedTransaction.begin(self.resources.engine) as transaction:
            await transaction.rows(statement, values)

    async def _beat(self) -> None:
        if not self._running:
            return
        async with self.resources.sessionmaker() as session, session.begin():
            await session.execute(
                update(Job)
                .where(Job.id.in_(list(self._running)), Job.status == JobStatus.doing.value)
                .values(heartbeat_at=utcnow())
            )

    async def recover_stalled(self) -> int:
        """Jobs whose runner stopped beating (its process died) go back to the queue."""
        cutoff = utcnow() - timedelta(seconds=self.stalled_after)
        conditions = [Job.status == JobStatus.doing.value, Job.heartbeat_at < cutoff]
        if self._running:
            conditions.append(Job.id.not_in(list(self._running)))
        async with self.resources.sessionmaker() as session, session.begin():
            recovered = (
                (
                    await session.execute(
                        update(Job)
                        .where(*conditions)
                        .values(status=JobStatus.todo.value, scheduled_at=utcnow())
                        .returning(Job.task_name)
                    )
                )
                .scalars()
                .all()
            )
        for task_name in recovered:
            record_job_failure(task_name, JobFailure.stalled)
        if recovered:
            logger.warning("jobs_stalled_recovered", count=len(recovered))
        return len(recovered)

    async def _defer_periodic(self) -> None:
        """The latest cron tick of each periodic task since this runner started, deferred once. Checked again
        only once the next tick is due: the loop runs for every job deferred or finished, and building a cron
        iterator per task each time cost more than the job that woke it."""
        now = time.time()
        task_names = tuple(TASKS)
        if self._next_tick[0] == task_names and now < self._next_tick[1]:
            return
        periodic = [definition for definition in TASKS.values() if definition.periodic is not None]
        rows = []
        for definition in periodic:
            tick = croniter(definition.periodic, now).get_prev(float)
            if tick < self._started_at:
                continue
            rows.append(
                {
                    "id": new_id(),
                    "queue": definition.queue,
                    "task_name": definition.name,
                    "arguments": {},
                    "status": JobStatus.todo.value,
                    "periodic_key": f"{definition.name}:{int(tick)}",
                    "attempts": 0,
                    "scheduled_at": datetime.fromtimestamp(tick, UTC),
                    "created_at": utcnow(),
                }
            )
        if rows:
            async with self.resources.sessionmaker() as session, session.begin():
                for row in rows:
                    await session.execute(sqlite_insert(Job).values(row).on_conflict_do_nothing())
        # Set once the ticks are stored: a failed insert is tried again at the next pass of the loop.
        next_tick = min((croniter(d.periodic, now).get_next(float) for d in periodic), default=math.inf)
        self._next_tick = (task_names, next_tick)


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _shielded(write: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.shield(write)


def _claim_statement(task_names: tuple[str, ...], queues: list[str] | None) -> Update:
    # The names as literals, not one expanding parameter: a PreparedStatement is compiled once, placeholders and all.
    task_names_in = Job.task_name.in_([literal(name) for name in task_names])
    running_locks = select(Job.lock).where(_doing, Job.lock.is_not(None))
    candidate = (
        select(Job.id)
        .where(
            Job.status == JobStatus.todo.value,
            Job.scheduled_at <= bindparam("now"),
            task_names_in,
            or_(Job.lock.is_(None), Job.lock.not_in(running_locks)),
        )
        .order_by(Job.scheduled_at, Job.id)
        .limit(1)
    )
    if queues:
        candidate = candidate.where(Job.queue.in_([literal(queue) for queue in queues]))
    # SQLite runs the statement under its write lock: the candidate is still waiting when it is marked.
    return (
        update(Job)
        .where(Job.id == candidate.scalar_subquery(), Job.status == JobStatus.todo.value)
        .values(
            status=JobStatus.doing.value,
            attempts=Job.attempts + 1,
            started_at=bindparam("now"),
            heartbeat_at=bindparam("now"),
        )
        .returning(Job.id, Job.task_name, Job.arguments, Job.lock, Job.attempts)
    )
