"""The job queue of either backend in tests: procrastinate's table on PostgreSQL, ours on SQLite."""

import asyncio
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.db import utcnow
from platform_server.jobs.models import Job, JobStatus
from tests.jobs.helpers import run_jobs


async def jobs_of(session: AsyncSession, task_name: str, **arguments: Any) -> list[tuple[str, dict[str, Any]]]:
    """(status, arguments) of the jobs of `task_name` whose arguments include `arguments`, as `session` sees
    them (its own transaction included). procrastinate's table outlives the tests' truncation: filter by
    arguments that belong to the test."""
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            text("SELECT status::text, args FROM procrastinate_jobs WHERE task_name = :name ORDER BY id"),
            {"name": task_name},
        )
    else:
        rows = await session.execute(select(Job.status, Job.arguments).where(Job.task_name == task_name))
    jobs = [(str(status), dict(job_arguments)) for status, job_arguments in rows]
    return [(status, found) for status, found in jobs if arguments.items() <= found.items()]


async def run_due_jobs(app: Any) -> None:
    """Every due job run to its end. On SQLite the runner may have claimed a job it has not started yet when
    its drain returns, so this also waits until no claimed job is left."""
    await run_jobs(app)
    if app.state.job_runner is None:
        return
    while True:
        async with app.state.sessionmaker() as session:
            unfinished = await session.scalar(
                select(func.count()).where(
                    (Job.status == JobStatus.doing) | ((Job.status == JobStatus.todo) & (Job.scheduled_at <= utcnow()))
                )
            )
        if not unfinished:
            return
        await asyncio.sleep(0.02)
        await run_jobs(app)
