"""Running jobs in tests, on either backend, with the app's own resources."""

from typing import Any

from platform_server.jobs.worker import run_worker


async def run_jobs(app: Any) -> None:
    """Runs every due job to its end (retries scheduled later stay queued): on SQLite the app's in-process
    runner drains the queue; on PostgreSQL a procrastinate worker runs in this process until no job is due."""
    runner = app.state.job_runner
    if runner is not None:
        await runner.drain()
        return
    await run_worker(app.state.resources, concurrency=4, install_signal_handlers=False, wait=False)
