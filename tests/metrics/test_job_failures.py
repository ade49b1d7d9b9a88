"""platform_job_failures_total through GET /metrics, on both engines: SQLite's in-process runner and a
procrastinate worker (run in the test process, so its counters are this process's)."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update

from platform_server.db import utcnow
from platform_server.jobs.models import Job, JobStatus
from platform_server.jobs.queue import defer
from platform_server.jobs.registry import JobContext, RetryLater, task
from platform_server.jobs.worker import build_app, retry_stalled_jobs
from tests.jobs.helpers import is_postgres, run_jobs, run_until_finished
from tests.metrics.helpers import delta, scrape

FAILURES = "platform_job_failures_total"


@task("tests.metrics.always_fails", max_attempts=2)
async def always_fails(ctx: JobContext) -> None:
    raise RuntimeError("boom")


@task("tests.metrics.later_then_done", max_attempts=3)
async def later_then_done(ctx: JobContext) -> None:
    if ctx.attempt == 1:
        raise RetryLater("the provider asked for a minute", timedelta(minutes=1))


@task("tests.metrics.quick")
async def quick(ctx: JobContext) -> None:
    return None


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"METRICS_ENABLED": True, "JOBS_RETRY_BACKOFF_SECONDS": 0.05, "JOBS_STALLED_SECONDS": 1.0}


async def _defer(app: Any, task_name: str) -> str:
    async with app.state.sessionmaker() as session, session.begin():
        return await defer(session, task_name)


async def test_every_failed_attempt_is_counted_by_task_and_reason(app: Any, client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    failing = await _defer(app, "tests.metrics.always_fails")
    assert await run_until_finished(app, failing) == "failed"
    later = await _defer(app, "tests.metrics.later_then_done")
    assert await run_until_finished(app, later) == "succeeded"
    succeeding = await _defer(app, "tests.metrics.quick")
    assert await run_until_finished(app, succeeding) == "succeeded"
    after = await scrape(client)

    assert delta(before, after, FAILURES, task="tests.metrics.always_fails", reason="error") == 2
    assert delta(before, after, FAILURES, task="tests.metrics.later_then_done", reason="retry_later") == 1
    assert delta(before, after, FAILURES, task="tests.metrics.later_then_done", reason="error") == 0
    for reason in ("error", "retry_later", "stalled"):
        assert delta(before, after, FAILURES, task="tests.metrics.quick", reason=reason) == 0


async def test_a_job_whose_worker_died_is_counted_stalled(app: Any, client: httpx.AsyncClient) -> None:
    job_id = await _defer(app, "tests.metrics.quick")
    before = await scrape(client)
    if is_postgres(app):
        # Running on no live worker: what a worker killed with -9 leaves.
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(
                text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL WHERE id = :id"),
                {"id": int(job_id)},
            )
        procrastinate_app = build_app(app.state.settings)
        async with procrastinate_app.open_async():
            assert await retry_stalled_jobs(procrastinate_app, 1.0) == 1
    else:
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status=JobStatus.doing.value, attempts=1, heartbeat_at=utcnow() - timedelta(minutes=5))
            )
        assert await app.state.job_runner.recover_stalled() == 1
    after = await scrape(client)
    assert delta(before, after, FAILURES, task="tests.metrics.quick", reason="stalled") == 1
    assert await run_until_finished(app, job_id) == "succeeded"
    await run_jobs(app)
