"""sync: one running sync per integration and workspace (partial unique index on sync_logs)

The import cursor itself lives in sync_logs.cursor (written with every committed page), so no table is added.

Revision ID: 0007_sync_cursors
Revises: 0006_web_sessions
Create Date: 2026-11-29 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_sync_cursors"
down_revision: str | Sequence[str] | None = "0006_web_sessions"
branch_labels: str | Sequence[str] | None = None
# sync_logs is created by the integrations revision.
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    running = sa.text("status = 'running'")
    op.create_index(
        "uq_sync_logs_running",
        "sync_logs",
        ["integration_id", "workspace_id"],
        unique=True,
        sqlite_where=running,
        postgresql_where=running,
    )


def downgrade() -> None:
    op.drop_index("uq_sync_logs_running", table_name="sync_logs")
