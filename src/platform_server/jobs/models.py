"""The SQLite job queue (PostgreSQL's belongs to procrastinate): one row per job, the runner's whole state."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdMixin, utcnow


class JobStatus(StrEnum):
    todo = "todo"
    doing = "doing"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = (JobStatus.succeeded.value, JobStatus.failed.value, JobStatus.cancelled.value)


class Job(IdMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_scheduled", "status", "scheduled_at"),
        # Retention finds finished jobs by when they ended.
        Index("ix_jobs_finished_at", "finished_at"),
    )

    queue: Mapped[str] = mapped_column(String(100))
    task_name: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.todo.value)
    lock: Mapped[str | None] = mapped_column(String(300))
    queueing_lock: Mapped[str | None] = mapped_column(String(300))
    # `<task>:<cron timestamp>` for a periodic run: unique, so two runners never defer the same tick twice.
    periodic_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The two lock rules, kept by the database as procrastinate's own indexes keep them on PostgreSQL: at most one
# waiting job per queueing lock, at most one running job per lock.
QUEUEING_LOCK_GUARD = Index(
    "uq_jobs_queueing_lock",
    Job.queueing_lock,
    unique=True,
    sqlite_where=Job.status == JobStatus.todo.value,
    postgresql_where=Job.status == JobStatus.todo.value,
)
LOCK_GUARD = Index(
    "uq_jobs_lock",
    Job.lock,
    unique=True,
    sqlite_where=Job.status == JobStatus.doing.value,
    postgresql_where=Job.status == JobStatus.doing.value,
)
