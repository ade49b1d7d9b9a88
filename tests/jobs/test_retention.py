"""Finished jobs go after JOBS_RETENTION_HOURS: our `jobs` table through `maintenance.delete_expired`
(SQLite's queue), procrastinate's through its builtin `remove_old_jobs`, registered as a periodic task."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from platform_server.db import utcnow
from platform_server.jobs.maintenance import delete_expired
from platform_server.jobs.models import Job, JobStatus
from platform_server.jobs.queue import defer
from platform_server.jobs.registry import JobContext, task
from platform_server.jobs.worker import RETENTION_TASK, build_app
from tests.conftest import Database
from tests.jobs.helpers import run_jobs, run_until_finished

RETENTION_HOURS = 24


@task("tests.jobs.retention.noop")
async def noop(ctx: JobContext) -> None:
    return None


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"PLATFORM_SANDBOX": True, "JOBS_RETENTION_HOURS": RETENTION_HOURS}


async def test_finished_jobs_past_the_retention_go_the_rest_stay(app: Any) -> None:
    now = utcnow()
    old = now - timedelta(hours=RETENTION_HOURS, minutes=5)
    recent = now - timedelta(hours=RETENTION_HOURS - 1)
    rows = {
        "succeeded_old": (JobStatus.succeeded, old),
        "failed_old": (JobStatus.failed, old),
        "cancelled_old": (JobStatus.cancelled, old),
        "succeeded_recent": (JobStatus.succeeded, recent),
        "waiting_old": (JobStatus.todo, None),
        "running_old": (JobStatus.doing, None),
    }
    async with app.state.sessionmaker() as session, session.begin():
        for name, (status, finished_at) in rows.items():
            session.add(
                Job(
                    queue="elsewhere",
                    task_name=f"tests.jobs.retention.{name}",
                    arguments={},
                    status=status.value,
                    scheduled_at=old,
                    created_at=old,
                    heartbeat_at=now,
                    finished_at=finished_at,
                )
            )
    await delete_expired(JobContext(resources=app.state, job_id="test-job", attempt=1))
    async with app.state.sessionmaker() as session:
        kept = set((await session.scalars(select(Job.task_name).where(Job.queue == "elsewhere"))).all())
    assert kept == {f"tests.jobs.retention.{name}" for name in ("succeeded_recent", "waiting_old", "running_old")}


async def _procrastinate_jobs(app: Any) -> dict[int, str]:
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(text("SELECT id, status::text FROM procrastinate_jobs"))).all()
    return {int(job_id): status for job_id, status in rows}


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_procrastinate_removes_its_jobs_past_the_retention_hourly(app: Any, database: Database) -> None:
    procrastinate_app = build_app(app.state.settings)
    (periodic,) = [
        periodic
        for periodic in procrastinate_app.periodic_registry.periodic_tasks.values()
        if periodic.periodic_id == RETENTION_TASK
    ]
    assert periodic.cron == "17 * * * *"

    job_ids = []
    for _ in range(3):
        async with app.state.sessionmaker() as session, session.begin():
            job_ids.append(await defer(session, "tests.jobs.retention.noop"))
    for job_id in job_ids:
        assert await run_until_finished(app, job_id) == "succeeded"
    async with app.state.sessionmaker() as session, session.begin():
        waiting = await defer(session, "tests.jobs.retention.noop", schedule_in=timedelta(days=30))
        # Two of the finished jobs ended past the retention; the third, and the waiting one, are recent.
        await session.execute(
            text("UPDATE procrastinate_events SET at = at - make_interval(hours => :hours) WHERE job_id = ANY(:ids)"),
            {"hours": RETENTION_HOURS + 1, "ids": [int(job_id) for job_id in job_ids[:2]]},
        )

    async with procrastinate_app.open_async():
        await procrastinate_app.tasks[RETENTION_TASK].defer_async(timestamp=0)
    await run_jobs(app)

    remaining = await _procrastinate_jobs(app)
    assert int(job_ids[0]) not in remaining
    assert int(job_ids[1]) not in remaining
    assert remaining[int(job_ids[2])] == "succeeded"
    assert remaining[int(waiting)] == "todo"
