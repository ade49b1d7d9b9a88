"""ai usage (monthly AI message counters)

Revision ID: 0003_ai_usage
Revises: 0002_integrations
Create Date: 2026-11-29 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0003_ai_usage"
down_revision: str | Sequence[str] | None = "0002_integrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_usage",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=20), nullable=True),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("subject_id", sa.String(length=20), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_ai_usage_team_id_teams"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_ai_usage_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_usage")),
        sa.UniqueConstraint("subject_id", "period_start", name=op.f("uq_ai_usage_subject_id_period_start")),
    )
    with op.batch_alter_table("ai_usage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_usage_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ai_usage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_usage_team_id"))

    op.drop_table("ai_usage")
