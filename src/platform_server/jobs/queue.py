"""Enqueueing: `defer` adds a job inside the caller's transaction, so the job and the change that causes it
commit together or not at all.

On PostgreSQL the job is a row of procrastinate's queue, written by procrastinate's own SQL function
(`procrastinate_defer_jobs_v1`) on the caller's connection; its insert trigger notifies the workers when the
transaction commits. On SQLite it is a row of our `jobs` table, and the in-process runners of this process
are woken once the transaction commits.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.db import utcnow
from platform_server.ids import new_id
from platform_server.jobs.models import Job, JobStatus
from platform_server.jobs.registry import TASKS
from platform_server.sqlite_inline import PreparedStatement, PreparedTransaction

_SQLITE_JOB_VALUES = (
    "id",
    "queue",
    "task_name",
    "arguments",
    "status",
    "lock",
    "queueing_lock",
    "attempts",
    "scheduled_at",
    "created_at",
)

_PG_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    "CAST(:queue AS varchar), CAST(:task_name AS varchar), 0, CAST(:lock AS text), CAST(:queueing_lock AS text), "
    "CAST(:args AS jsonb), CAST(:scheduled_at AS timestamptz)"
    ")::procrastinate_job_to_defer_v1])) AS id"
)
_PG_CANCEL = text("SELECT procrastinate_cancel_job_v1(CAST(:job_id AS bigint), false, false) AS id")
_PG_QUEUE_STATS = text(
    "SELECT j.queue_name, count(DISTINCT j.id), "
    "EXTRACT(EPOCH FROM now() - min(COALESCE(j.scheduled_at, e.at))) "
    "FROM procrastinate_jobs j LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred' "
    "WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now()) "
    "GROUP BY j.queue_name"
)

_jobs = Job.metadata.tables[Job.__tablename__]
# Built once: a webhook defers its email with it. ON CONFLICT DO NOTHING covers the partial unique index on
# waiting queueing locks.
_SQLITE_DEFER = PreparedStatement(
    sqlite_insert(_jobs)
    .values({name: bindparam(name) for name in _SQLITE_JOB_VALUES})
    .on_conflict_do_nothing()
    .returning(_jobs.c.id)
)


class AlreadyEnqueued(Exception):
    """A job with this queueing lock is already waiting; the new one was not added."""

    def __init__(self, queueing_lock: str) -> None:
        super().__init__(f"a job with queueing lock {queueing_lock!r} is already waiting")
        self.queueing_lock = queueing_lock


class UnknownTask(Exception):
    pass


async def defer(
    session: AsyncSession,
    task_name: str,
    /,
    *,
    queueing_lock: str | None = None,
    lock: str | None = None,
    schedule_in: timedelta | None = None,
    **arguments: Any,
) -> str:
    """Enqueue `task_name` with JSON `arguments` in `session`'s transaction; returns the job id.

    `queueing_lock`: at most one job with this lock waiting at a time (a second defer is refused with
    `AlreadyEnqueued`, and the caller's transaction goes on). `lock`: at most one job with this lock running
    at a time, across all workers.
    """
    return await defer_in(
        await PreparedTransaction.of_session(session),
        task_name,
        queueing_lock=queueing_lock,
        lock=lock,
        schedule_in=schedule_in,
        **arguments,
    )


async def defer_in(
    transaction: PreparedTransaction,
    task_name: str,
    /,
    *,
    queueing_lock: str | None = None,
    lock: str | None = None,
    schedule_in: timedelta | None = None,
    **arguments: Any,
) -> str:
    """`defer` in a `PreparedTransaction`."""
    definition = TASKS.get(task_name)
    if definition is None:
        raise UnknownTask(task_name)
    scheduled_at = utcnow() + schedule_in if schedule_in is not None else None
    if transaction.dialect.name == "postgresql":
        assert transaction.connection is not None
        parameters = {
            "queue": definition.queue,
            "task_name": task_name,
            "lock": lock,
            "queueing_lock": queueing_lock,
            "args": orjson.dumps(arguments).decode(),
            "scheduled_at": scheduled_at,
        }
        try:
            # A savepoint: a refused queueing lock must not abort the caller's transaction.
            async with transaction.connection.begin_nested():
                job_id = (await transaction.connection.execute(_PG_DEFER, parameters)).scalar_one()
        except IntegrityError:
            if queueing_lock is None:
                raise
            raise AlreadyEnqueued(queueing_lock) from None
        return str(job_id)
    values = {
        "id": new_id(),
        "queue": definition.queue,
        "task_name": task_name,
        "arguments": arguments,
        "status": JobStatus.todo.value,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "attempts": 0,
        "scheduled_at": scheduled_at or utcnow(),
        "created_at": utcnow(),
    }
    inserted = await transaction.rows(_SQLITE_DEFER, values)
    if not inserted:
        assert queueing_lock is not None
        raise AlreadyEnqueued(queueing_lock)
    transaction.on_commit(_wake_runners)
    return str(inserted[0]["id"])


async def cancel(session: AsyncSession, job_id: str) -> bool:
    """Cancels a job that has not started, in the caller's transaction; false when it already started or ended."""
    if session.get_bind().dialect.name == "postgresql":
        if not job_id.isdigit():
            return False
        return (await session.execute(_PG_CANCEL, {"job_id": int(job_id)})).scalar_one() is not None
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.todo.value)
        .values(status=JobStatus.cancelled.value, finished_at=utcnow())
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def queue_stats(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, tuple[int, float]]:
    """Per queue: how many jobs are due and waiting, and the age in seconds of the oldest of them."""
    async with sessionmaker() as session:
        if session.get_bind().dialect.name == "postgresql":
            rows = (await session.execute(_PG_QUEUE_STATS)).all()
            return {str(queue): (int(count), float(age or 0)) for queue, count, age in rows}
        now = utcnow()
        due = (
            select(Job.queue, func.count(), func.min(Job.scheduled_at))
            .where(Job.status == JobStatus.todo.value, Job.scheduled_at <= now)
            .group_by(Job.queue)
        )
        rows = (await session.execute(due)).all()
    return {str(queue): (int(count), max(0.0, (now - oldest).total_seconds())) for queue, count, oldest in rows}


_wake_callbacks: set[Callable[[], None]] = set()


def on_commit_of_deferred_jobs(callback: Callable[[], None]) -> Callable[[], None]:
    """Calls `callback` whenever a transaction of this process that deferred a SQLite job commits; returns a
    function that stops it."""
    _wake_callbacks.add(callback)
    return lambda: _wake_callbacks.discard(callback)


def _wake_runners() -> None:
    for callback in list(_wake_callbacks):
        callback()
