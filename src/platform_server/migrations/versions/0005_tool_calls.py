"""tool calls (MCP gateway audit)

Revision ID: 0005_tool_calls
Revises: 0004_billing_email
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0005_tool_calls"
down_revision: str | Sequence[str] | None = "0004_billing_email"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tool_calls",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=20), nullable=False),
        sa.Column("integration_id", sa.String(length=20), nullable=True),
        sa.Column("user_id", sa.String(length=20), nullable=True),
        sa.Column("api_key_id", sa.String(length=20), nullable=True),
        sa.Column("tool", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("argument_names", sa.JSON(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_tool_calls_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_tool_calls_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_calls")),
    )
    with op.batch_alter_table("tool_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tool_calls_team_id"), ["team_id"], unique=False)
        batch_op.create_index("ix_tool_calls_workspace_id_id", ["workspace_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tool_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_tool_calls_workspace_id_id")
        batch_op.drop_index(batch_op.f("ix_tool_calls_team_id"))

    op.drop_table("tool_calls")
