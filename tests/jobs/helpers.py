"""Running jobs in tests, on either backend, with the app's own resources; reading a job's state."""

import asyncio
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import text, update

from platform_server.db import utcnow
from platform_server.jobs.models import Job
from platform_server.jobs.worker import run_worker
from tests.conftest import Member
from tests.sync.helpers import connect_and_enable
from tests.sync.test_sync import expected_github

RUN_JOBS_SECONDS = 120.0


async def run_jobs(app: Any) -> None:
    """Runs every due job to its end (retries scheduled later stay queued): on SQLite the app's in-process
    runner drains the queue; on PostgreSQL a procrastinate worker runs in this process until no job is due."""
    runner = app.state.job_runner
    if runner is not None:
        await runner.drain()
        return
    # Bounded: a worker that failed to stop would otherwise hang the suite instead of failing the test.
    async with asyncio.timeout(RUN_JOBS_SECONDS):
        await run_worker(app.state.resources, concurrency=4, install_signal_handlers=False, wait=False)


def is_postgres(app: Any) -> bool:
    return not app.state.settings.is_sqlite


async def job_state(app: Any, job_id: str) -> tuple[str, int, datetime | None] | None:
    """(status, attempts started, scheduled_at) of a job on either backend; None when there is no such job."""
    async with app.state.sessionmaker() as session:
        if is_postgres(app):
            row = (
                await session.execute(
                    text("SELECT status::text, attempts, scheduled_at FROM procrastinate_jobs WHERE id = :id"),
                    {"id": int(job_id)},
                )
            ).first()
            # procrastinate counts finished attempts; a finished job's count is the number of runs minus one.
            return None if row is None else (row[0], row[1], row[2])
        job = await session.get(Job, job_id)
        return None if job is None else (job.status, job.attempts, job.scheduled_at)


async def make_due(app: Any, job_id: str) -> None:
    """As if a retry's wait had passed."""
    async with app.state.sessionmaker() as session, session.begin():
        if is_postgres(app):
            await session.execute(
                text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = :id AND status = 'todo'"),
                {"id": int(job_id)},
            )
        else:
            await session.execute(
                update(Job).where(Job.id == job_id, Job.status == "todo").values(scheduled_at=utcnow())
            )


async def run_until_finished(app: Any, job_id: str, *, rounds: int = 20) -> str:
    """Runs the job (and its retries, without waiting for their backoff) until it succeeded, failed or was
    cancelled; answers that status."""
    for _ in range(rounds):
        await make_due(app, job_id)
        await run_jobs(app)
        state = await job_state(app, job_id)
        assert state is not None
        if state[0] in ("succeeded", "failed", "cancelled"):
            return state[0]
    raise AssertionError(f"job {job_id} still {state} after {rounds} rounds")


async def github_with(
    app: Any, client: httpx.AsyncClient, member: Member, *, volume: int | None = None, latency_ms: int = 0
) -> tuple[str, dict[str, str]]:
    """GitHub connected with `volume` issues, then answering with `latency_ms`; (integration, expected items)."""
    store = app.state.sandbox
    if volume is not None:
        store.faults.volume = volume
    integration_id = await connect_and_enable(app, client, member, "github")
    expected = expected_github(app, pulls=False)
    store.faults.latency_ms = latency_ms
    return integration_id, expected
