"""Finished jobs are deleted after JOBS_RETENTION_HOURS: found by when they ended

Revision ID: 0018_jobs_retention
Revises: 0017_remote_mcp_oauth
Create Date: 2026-12-03 02:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_jobs_retention"
down_revision: str | Sequence[str] | None = "0017_remote_mcp_oauth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at", table_name="jobs")
