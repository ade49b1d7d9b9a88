"""Syncs as jobs with procrastinate workers as separate processes (`platform-server worker`) on PostgreSQL.

The test's app serves the API and the sandbox; it is also served over a real socket, so the workers reach the
sandbox's simulated GitHub at PUBLIC_BASE_URL as they would reach a `serve --sandbox`. The app itself runs no
jobs (PostgreSQL `serve` without --with-worker only enqueues).
"""

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.integrations.models import SyncLog
from platform_server.models import WorkItem
from tests.conftest import TEST_SECRET_KEY, Database, Member, row_count
from tests.jobs.helpers import github_with, job_state, make_due
from tests.sync.helpers import connect_and_enable, items, wait_for_sync
from tests.test_cli import COMMAND

# Worker processes run on PostgreSQL; SQLite runs jobs inside serve (and refuses `worker`).
on_postgres = pytest.mark.parametrize("database", ["postgres"], indirect=True)


@pytest.fixture
async def sandbox_url(app: Any) -> AsyncIterator[str]:
    """The app on a real socket, in this event loop (its lifespan is already running)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


class WorkerProcesses:
    def __init__(self, database_url: str, sandbox_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.sandbox_url = sandbox_url
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 1) -> list[subprocess.Popen[bytes]]:
        clean = {k: v for k, v in os.environ.items() if k.upper() not in Settings.model_fields}
        env = {
            **clean,
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "PLATFORM_ENV": "test",
            "PLATFORM_SANDBOX": "1",
            "PUBLIC_BASE_URL": self.sandbox_url,
            "LOG_LEVEL": "WARNING",
            "JOBS_STALLED_SECONDS": "2",
            "JOBS_RETRY_BACKOFF_SECONDS": "0.05",
            "JOBS_SHUTDOWN_GRACE_SECONDS": "5",
        }
        started = []
        for _ in range(count):
            log = (self.tmp_path / f"worker-{len(self.processes)}.log").open("wb")
            process = subprocess.Popen(
                [COMMAND, "worker", "--concurrency", "4", "--queues", "sync"],
                cwd=self.tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.processes.append(process)
            started.append(process)
        return started

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()

    def stop(self) -> list[int]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=60) for process in self.processes]


@pytest.fixture
async def workers(database: Database, sandbox_url: str, tmp_path: Path) -> AsyncIterator[WorkerProcesses]:
    processes = WorkerProcesses(database.url, sandbox_url, tmp_path)
    try:
        yield processes
    finally:
        processes.kill()


async def _log(app: Any, log_id: str) -> SyncLog:
    async with app.state.sessionmaker() as session:
        log = await session.get(SyncLog, log_id)
    assert log is not None
    return log


async def _job_id(app: Any, log_id: str) -> str:
    job_id = (await _log(app, log_id)).job_id
    assert job_id is not None
    return job_id


async def _until(condition: Callable[[], Any], *, seconds: float = 120) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - the state is in the database
            await asyncio.sleep(0.05)


def _queued_import(member: Member) -> dict[str, Any]:
    return {
        "syncType": "import",
        "workspaceId": member.workspace_id,
        "sourceEntity": "issues",
        "targetEntity": "work_items",
        "async": True,
    }


async def _start(client: httpx.AsyncClient, member: Member, integration_id: str) -> str:
    response = await client.post(
        f"/api/integrations/{integration_id}/sync", json=_queued_import(member), headers=member.headers
    )
    assert response.status_code == 202, response.text
    return str(response.json()["syncLogId"])


async def _some_pages_committed(app: Any, log_id: str) -> None:
    async def committed() -> bool:
        return (await _log(app, log_id)).items_synced > 0

    await _until(committed)


async def _job_reaches(app: Any, job_id: str, status: str, *, attempts: int | None = None) -> None:
    async def reached() -> bool:
        state = await job_state(app, job_id)
        return state is not None and state[0] == status and attempts in (None, state[1])

    await _until(reached)


async def _keys(client: httpx.AsyncClient, member: Member) -> dict[str, str]:
    return {item["key"]: item["status"] for item in await items(client, member)}


@on_postgres
async def test_a_killed_worker_s_sync_is_finished_by_another_exactly(
    app: Any, client: httpx.AsyncClient, owner: Member, workers: WorkerProcesses
) -> None:
    integration_id, expected = await github_with(app, client, owner, volume=800, latency_ms=250)
    workers.start(2)
    log_id = await _start(client, owner, integration_id)
    await _some_pages_committed(app, log_id)
    workers.kill()
    partial = await _log(app, log_id)
    assert partial.status == "running"
    assert 0 < partial.items_synced < len(expected)

    app.state.sandbox.faults.latency_ms = 0
    workers.start(1)
    finished = await wait_for_sync(app, log_id)
    assert finished.status == "completed", finished.error
    assert finished.items_synced == len(expected)
    assert await row_count(app, WorkItem) == len(expected)
    assert await _keys(client, owner) == expected
    # The worker records the job's end in a transaction of its own, after the run's last commit.
    job_id = await _job_id(app, log_id)
    await _job_reaches(app, job_id, "succeeded")
    state = await job_state(app, job_id)
    assert state is not None
    # Finished by a retry of the same job (procrastinate counts the retries).
    assert state[1] >= 1


@on_postgres
async def test_many_requests_for_one_sync_make_one_run_across_two_workers(
    app: Any, client: httpx.AsyncClient, owner: Member, workers: WorkerProcesses
) -> None:
    integration_id, expected = await github_with(app, client, owner, volume=300, latency_ms=100)
    workers.start(2)
    body = _queued_import(owner)
    responses = await asyncio.gather(
        *(client.post(f"/api/integrations/{integration_id}/sync", json=body, headers=owner.headers) for _ in range(10))
    )
    assert sorted(response.status_code for response in responses) == [202] + [409] * 9
    log_id = next(response.json()["syncLogId"] for response in responses if response.status_code == 202)
    finished = await wait_for_sync(app, log_id)
    assert finished.status == "completed"
    assert finished.items_synced == len(expected)
    assert await row_count(app, WorkItem) == len(expected)
    async with app.state.sessionmaker() as session:
        jobs = await session.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE args->>'log_id' IN (SELECT id FROM sync_logs)")
        )
    assert jobs == 1


@on_postgres
async def test_a_rate_limited_sync_is_retried_after_retry_after_then_completes(
    app: Any, client: httpx.AsyncClient, owner: Member, workers: WorkerProcesses
) -> None:
    store = app.state.sandbox
    integration_id, expected = await github_with(app, client, owner, volume=450)
    # Longer than the provider client sleeps through: the job is retried later instead.
    store.faults.retry_after_seconds = 600
    store.faults.rate_limit_every = 3
    workers.start(1)
    log_id = await _start(client, owner, integration_id)
    job_id = await _job_id(app, log_id)
    # Back in the queue after its first attempt.
    await _job_reaches(app, job_id, "todo", attempts=1)
    state = await job_state(app, job_id)
    assert state is not None
    assert state[2] is not None
    # The provider's Retry-After, not a backoff of our own.
    assert state[2] > utcnow() + timedelta(minutes=9)
    log = await _log(app, log_id)
    assert log.status == "running"
    assert log.items_synced < len(expected)

    store.faults.rate_limit_every = None
    await make_due(app, job_id)
    finished = await wait_for_sync(app, log_id)
    assert finished.status == "completed"
    assert finished.items_synced == len(expected)
    assert await _keys(client, owner) == expected


@on_postgres
async def test_provider_errors_beyond_the_limit_fail_the_run_with_a_clear_reason(
    app: Any, client: httpx.AsyncClient, owner: Member, workers: WorkerProcesses
) -> None:
    store = app.state.sandbox
    integration_id = await connect_and_enable(app, client, owner, "github")
    store.faults.error_rate = 1.0
    workers.start(1)
    log_id = await _start(client, owner, integration_id)
    finished = await wait_for_sync(app, log_id)
    assert finished.status == "failed"
    assert "gave up after 5 attempts" in (finished.error or "")
    assert "GitHub" in (finished.error or "")
    await _job_reaches(app, await _job_id(app, log_id), "succeeded")
    assert await row_count(app, WorkItem) == 0


@on_postgres
async def test_serve_only_enqueues_and_a_queued_sync_can_be_cancelled(
    app: Any, client: httpx.AsyncClient, owner: Member, workers: WorkerProcesses
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    log_id = await _start(client, owner, integration_id)
    job_id = await _job_id(app, log_id)
    await asyncio.sleep(1)
    # No worker runs: the app (PostgreSQL, no --with-worker) did not take the job.
    state = await job_state(app, job_id)
    assert state is not None
    assert state[0] == "todo"

    response = await client.post(f"/api/integrations/{integration_id}/sync/{log_id}/cancel", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    state = await job_state(app, job_id)
    assert state is not None
    assert state[0] == "cancelled"
    assert await row_count(app, WorkItem) == 0


@on_postgres
async def test_a_running_sync_is_cancelled_at_its_next_page(
    app: Any, client: httpx.AsyncClient, owner: Member, workers: WorkerProcesses
) -> None:
    integration_id, expected = await github_with(app, client, owner, volume=800, latency_ms=250)
    workers.start(1)
    log_id = await _start(client, owner, integration_id)
    await _some_pages_committed(app, log_id)
    response = await client.post(f"/api/integrations/{integration_id}/sync/{log_id}/cancel", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    await _job_reaches(app, await _job_id(app, log_id), "succeeded")
    log = await _log(app, log_id)
    assert log.status == "cancelled"
    assert log.items_synced < len(expected)
    # Nothing was written after the cancel: the page in flight was refused with its log write.
    assert await row_count(app, WorkItem) == log.items_synced
    assert workers.stop() == [0]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_worker_on_sqlite_is_refused_with_the_reason(database: Database, tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if k.upper() not in Settings.model_fields}
    result = subprocess.run(
        [COMMAND, "worker"],
        cwd=tmp_path,
        env={**clean, "DATABASE_URL": database.url, "SECRET_KEY": TEST_SECRET_KEY},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "SQLite runs jobs inside serve" in result.stderr
    assert "Traceback" not in result.stderr
