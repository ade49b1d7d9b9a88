"""The job layer on both backends, in-process: SQLite's runner inside the app, PostgreSQL's procrastinate
worker run in the test process (separate worker processes: test_workers.py)."""

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from platform_server.db import utcnow
from platform_server.jobs.models import Job, JobStatus
from platform_server.jobs.queue import AlreadyEnqueued, UnknownTask, cancel, defer, queue_stats
from platform_server.jobs.registry import TASKS, JobContext, RetryLater, task
from platform_server.jobs.worker import run_worker
from platform_server.models import Team
from tests.conftest import row_count
from tests.jobs.helpers import is_postgres, job_state, run_jobs, run_until_finished

CALLS: list[tuple[str, int, str]] = []
RUNNING: dict[str, int] = {}
MOST_AT_ONCE: dict[str, int] = {}
IN_COMPANY: dict[str, asyncio.Event] = {}


@task("tests.jobs.record")
async def record(ctx: JobContext, *, value: str) -> None:
    CALLS.append(("record", ctx.attempt, value))


@task("tests.jobs.busy_first", max_attempts=3)
async def busy_first(ctx: JobContext, *, value: str) -> None:
    CALLS.append(("busy_first", ctx.attempt, value))
    if ctx.attempt == 1:
        raise RetryLater("the provider asked for an hour", timedelta(hours=1))


@task("tests.jobs.always_fails", max_attempts=3)
async def always_fails(ctx: JobContext, *, value: str) -> None:
    CALLS.append(("always_fails", ctx.attempt, value))
    raise RuntimeError("boom")


@task("tests.jobs.exclusive")
async def exclusive(ctx: JobContext, *, value: str, lock_name: str, wait_for_company: float) -> None:
    RUNNING[lock_name] = RUNNING.get(lock_name, 0) + 1
    MOST_AT_ONCE[lock_name] = max(MOST_AT_ONCE.get(lock_name, 0), RUNNING[lock_name])
    in_company = IN_COMPANY.setdefault(lock_name, asyncio.Event())
    if RUNNING[lock_name] > 1:
        in_company.set()
    try:
        # Waits for a second job of its kind to start, so "ran together" does not hang on how fast a loaded
        # machine starts them; a job the engine keeps alone waits out the time and is seen running alone.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_for_company):
                await in_company.wait()
        CALLS.append(("exclusive", ctx.attempt, value))
    finally:
        RUNNING[lock_name] -= 1


@pytest.fixture(autouse=True)
def fresh_calls() -> Iterator[None]:
    CALLS.clear()
    RUNNING.clear()
    MOST_AT_ONCE.clear()
    IN_COMPANY.clear()
    yield
    CALLS.clear()


async def _job_count(app: Any) -> int:
    if is_postgres(app):
        async with app.state.sessionmaker() as session:
            return int(
                await session.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE 'tests.%'"))
                or 0
            )
    return await row_count(app, Job)


async def test_a_rolled_back_transaction_leaves_no_job(app: Any) -> None:
    before = await _job_count(app)

    class Refused(Exception):
        pass

    async def change_then_fail() -> None:
        async with app.state.sessionmaker() as session, session.begin():
            session.add(Team(name="Rolled back"))
            await defer(session, "tests.jobs.record", value="never")
            raise Refused

    with pytest.raises(Refused):
        await change_then_fail()
    assert await _job_count(app) == before
    assert await row_count(app, Team) == 0
    await run_jobs(app)
    assert CALLS == []


async def test_a_committed_job_runs_once_with_its_arguments(app: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        job_id = await defer(session, "tests.jobs.record", value="hello")
    assert await run_until_finished(app, job_id) == "succeeded"
    await run_jobs(app)
    assert CALLS == [("record", 1, "hello")]


async def test_an_unknown_task_is_refused_and_nothing_is_queued(app: Any) -> None:
    before = await _job_count(app)
    async with app.state.sessionmaker() as session, session.begin():
        with pytest.raises(UnknownTask):
            await defer(session, "tests.jobs.nothing", value="x")
    assert await _job_count(app) == before


async def test_a_queueing_lock_keeps_one_job_waiting_and_the_transaction_goes_on(app: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        first = await defer(session, "tests.jobs.record", queueing_lock="only-one", value="first")
        with pytest.raises(AlreadyEnqueued):
            await defer(session, "tests.jobs.record", queueing_lock="only-one", value="second")
        # The transaction is still usable after the refusal.
        session.add(Team(name="Still here"))
    assert await row_count(app, Team) == 1
    assert await run_until_finished(app, first) == "succeeded"
    assert CALLS == [("record", 1, "first")]
    # Once the first has started, the lock is free again.
    async with app.state.sessionmaker() as session, session.begin():
        again = await defer(session, "tests.jobs.record", queueing_lock="only-one", value="again")
    assert await run_until_finished(app, again) == "succeeded"


async def test_retry_later_waits_its_delay_then_runs_again(app: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        job_id = await defer(session, "tests.jobs.busy_first", value="v")
    await run_jobs(app)
    state = await job_state(app, job_id)
    assert state is not None
    status, _, scheduled_at = state
    assert status == "todo"
    assert scheduled_at is not None
    assert scheduled_at > utcnow() + timedelta(minutes=50)
    await run_jobs(app)
    assert CALLS == [("busy_first", 1, "v")]
    assert await run_until_finished(app, job_id) == "succeeded"
    assert CALLS == [("busy_first", 1, "v"), ("busy_first", 2, "v")]


async def test_a_failing_job_is_retried_up_to_its_limit_then_failed(app: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        job_id = await defer(session, "tests.jobs.always_fails", value="v")
    assert await run_until_finished(app, job_id) == "failed"
    assert [attempt for _, attempt, _ in CALLS] == [1, 2, 3]


async def test_a_lock_never_lets_two_jobs_run_at_once(app: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        for number in range(8):
            await defer(
                session,
                "tests.jobs.exclusive",
                lock="one-at-a-time",
                value=f"locked-{number}",
                lock_name="L",
                wait_for_company=0.05,
            )
        for number in range(4):
            await defer(session, "tests.jobs.exclusive", value=f"free-{number}", lock_name="free", wait_for_company=2.0)
    if is_postgres(app):
        # Two procrastinate workers share the queue.
        await asyncio.gather(run_jobs(app), run_jobs(app))
    for _ in range(20):
        await run_jobs(app)
        if len(CALLS) == 12:
            break
    assert sorted(value for _, _, value in CALLS) == sorted(
        [f"locked-{n}" for n in range(8)] + [f"free-{n}" for n in range(4)]
    )
    assert MOST_AT_ONCE["L"] == 1
    assert MOST_AT_ONCE["free"] > 1


async def test_a_waiting_job_can_be_cancelled_and_never_runs(app: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        job_id = await defer(session, "tests.jobs.record", schedule_in=timedelta(hours=1), value="cancelled")
    async with app.state.sessionmaker() as session, session.begin():
        assert await cancel(session, job_id) is True
    async with app.state.sessionmaker() as session, session.begin():
        assert await cancel(session, job_id) is False
        assert await cancel(session, "999999999") is False
    state = await job_state(app, job_id)
    assert state is not None
    assert state[0] == "cancelled"
    await run_jobs(app)
    assert CALLS == []


async def test_queue_stats_count_due_jobs_per_queue(app: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        if is_postgres(app):
            # Nothing runs jobs here: serve without --with-worker only enqueues.
            for value in ("a", "b"):
                await defer(session, "tests.jobs.record", value=value)
            await defer(session, "tests.jobs.record", schedule_in=timedelta(hours=1), value="later")
        else:
            # Rows of a task this process does not know: the runner leaves them alone.
            for _ in range(2):
                session.add(
                    Job(
                        queue="default",
                        task_name="tests.jobs.elsewhere",
                        arguments={},
                        scheduled_at=utcnow() - timedelta(seconds=5),
                    )
                )
    stats = await queue_stats(app.state.sessionmaker)
    depth, age = stats["default"]
    assert depth == 2
    assert age >= 0
    assert CALLS == []


# PostgreSQL's stalled jobs are recovered by workers: test_workers.py kills one.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_runner_recovers_a_job_whose_process_died(app: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        session.add(
            Job(
                queue="default",
                task_name="tests.jobs.record",
                arguments={"value": "orphan"},
                status=JobStatus.doing.value,
                attempts=1,
                heartbeat_at=utcnow() - timedelta(minutes=5),
                scheduled_at=utcnow() - timedelta(minutes=5),
            )
        )
    assert await app.state.job_runner.recover_stalled() == 1
    await run_jobs(app)
    assert CALLS == [("record", 2, "orphan")]
    async with app.state.sessionmaker() as session:
        statuses = (await session.scalars(select(Job.status))).all()
    assert statuses == ["succeeded"]


async def test_periodic_tasks_run_on_their_schedule(app: Any) -> None:
    ran = asyncio.Event()

    @task("tests.jobs.every_second", periodic="* * * * * *")
    async def every_second(ctx: JobContext) -> None:
        CALLS.append(("periodic", ctx.attempt, ""))
        ran.set()

    # PostgreSQL: procrastinate's periodic deferrer, in a worker started after the task exists.
    worker = (
        asyncio.create_task(run_worker(app.state.resources, concurrency=2, install_signal_handlers=False))
        if is_postgres(app)
        else None
    )
    try:
        async with asyncio.timeout(60):
            await ran.wait()
    finally:
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        del TASKS["tests.jobs.every_second"]
    async with app.state.sessionmaker() as session:
        if is_postgres(app):
            ticks = text(
                "SELECT count(*), count(DISTINCT defer_timestamp) FROM procrastinate_periodic_defers "
                "WHERE task_name = 'tests.jobs.every_second'"
            )
            deferred, distinct = (await session.execute(ticks)).one()
            assert deferred >= 1
            assert distinct == deferred
            return
        keys = (await session.scalars(select(Job.periodic_key).where(Job.task_name == "tests.jobs.every_second"))).all()
        distinct = await session.scalar(select(func.count(func.distinct(Job.periodic_key))))
    assert keys
    assert all(key.startswith("tests.jobs.every_second:") for key in keys)
    assert distinct == len(keys)
