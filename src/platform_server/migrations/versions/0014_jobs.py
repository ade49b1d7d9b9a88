"""The job layer: procrastinate's schema on PostgreSQL, our `jobs` queue table for the in-process runner on
SQLite (created on both, used on SQLite only); sync_logs.job_id links a run to its job

procrastinate's schema is its own shipped `schema.sql` for the pinned version (3.10). Upgrading procrastinate
means a new migration of ours that applies the files of `procrastinate/sql/migrations/` between the old and
the new version, in their order (pre-migrations before deploying the new code, post-migrations after), as
procrastinate's upgrade guide describes; the pin in requirements moves with that migration, never alone.

Runs left `running` by the previous, job-less server have no job that would finish them: they end `failed`
(their cursors stay, so the next sync resumes).

Revision ID: 0014_jobs
Revises: 0012_oauth_server
Create Date: 2026-12-02 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.util import await_only

import platform_server.db

revision: str = "0014_jobs"
down_revision: str | Sequence[str] | None = "0012_oauth_server"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Utc = platform_server.db.UTCDateTime(timezone=True)

_DROP_PROCRASTINATE = """
DO $$
DECLARE item record;
BEGIN
    DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
        procrastinate_workers CASCADE;
    FOR item IN SELECT oid::regprocedure AS signature FROM pg_proc WHERE proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE 'DROP FUNCTION ' || item.signature || ' CASCADE';
    END LOOP;
    DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status;
END $$;
"""


def _execute_script(script: str) -> None:
    """Runs a multi-statement script (procrastinate's functions contain `;`) in the migration's transaction.

    asyncpg prepares every statement SQLAlchemy sends, and a prepared statement holds one command; its plain
    `execute` runs a whole script.
    """
    raw = op.get_bind().connection.dbapi_connection
    assert raw is not None
    await_only(raw.driver_connection.execute(script))


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lock", sa.String(length=300), nullable=True),
        sa.Column("queueing_lock", sa.String(length=300), nullable=True),
        sa.Column("periodic_key", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", _Utc, nullable=False),
        sa.Column("started_at", _Utc, nullable=True),
        sa.Column("heartbeat_at", _Utc, nullable=True),
        sa.Column("finished_at", _Utc, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _Utc, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("periodic_key", name=op.f("uq_jobs_periodic_key")),
    )
    op.create_index("ix_jobs_status_scheduled", "jobs", ["status", "scheduled_at"])
    op.create_index(
        "uq_jobs_queueing_lock",
        "jobs",
        ["queueing_lock"],
        unique=True,
        sqlite_where=sa.text("status = 'todo'"),
        postgresql_where=sa.text("status = 'todo'"),
    )
    op.create_index(
        "uq_jobs_lock",
        "jobs",
        ["lock"],
        unique=True,
        sqlite_where=sa.text("status = 'doing'"),
        postgresql_where=sa.text("status = 'doing'"),
    )
    with op.batch_alter_table("sync_logs") as batch:
        batch.add_column(sa.Column("job_id", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE sync_logs SET status = 'failed', "
        "error = 'Interrupted by the upgrade to background jobs; the next sync resumes from the last committed page' "
        "WHERE status = 'running'"
    )
    if op.get_bind().dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        _execute_script(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _execute_script(_DROP_PROCRASTINATE)
    with op.batch_alter_table("sync_logs") as batch:
        batch.drop_column("job_id")
    op.drop_index("uq_jobs_lock", table_name="jobs")
    op.drop_index("uq_jobs_queueing_lock", table_name="jobs")
    op.drop_index("ix_jobs_status_scheduled", table_name="jobs")
    op.drop_table("jobs")
