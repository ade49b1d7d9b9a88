"""Enqueueing: `defer` adds a job inside the caller's transaction, so the job and the change that causes it
commit together or not at all."""

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


class AlreadyEnqueued(Exception):
    """A job with this queueing lock is already waiting; the new one was not added."""

    def __init__(self, queueing_lock: str) -> None:
        super().__init__(f"a job with queueing lock {queueing_lock!r} is already waiting")
        self.queueing_lock = queueing_lock


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
    `AlreadyEnqueued`). `lock`: at most one job with this lock running at a time, across all workers.
    """
    raise NotImplementedError("the job engine implements defer")
