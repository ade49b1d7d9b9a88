"""Scheduled and pushed syncs: a sync interval and its next due time per workspace integration; the provider
webhooks registered for each integration (signing secrets encrypted)

Revision ID: 0015_sync_triggers
Revises: 0014_jobs
Create Date: 2026-12-02 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0015_sync_triggers"
down_revision: str | Sequence[str] | None = "0014_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Utc = platform_server.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("workspace_integrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_interval_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_sync_at", _Utc, nullable=True))
        batch_op.add_column(sa.Column("schedule_skips", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("schedule_skip_reason", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_workspace_integrations_next_sync_at"), ["next_sync_at"])
    with op.batch_alter_table("workspace_integrations", schema=None) as batch_op:
        batch_op.alter_column("schedule_skips", server_default=None)

    op.create_table(
        "push_webhooks",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("integration_id", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("expires_at", _Utc, nullable=True),
        sa.Column("created_at", _Utc, nullable=False),
        sa.Column("updated_at", _Utc, nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_push_webhooks_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_push_webhooks_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_webhooks")),
        sa.UniqueConstraint("integration_id", "target", name=op.f("uq_push_webhooks_integration_id_target")),
    )
    op.create_index(op.f("ix_push_webhooks_team_id"), "push_webhooks", ["team_id"])
    op.create_index("ix_push_webhooks_provider_external", "push_webhooks", ["provider", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_push_webhooks_provider_external", table_name="push_webhooks")
    op.drop_index(op.f("ix_push_webhooks_team_id"), table_name="push_webhooks")
    op.drop_table("push_webhooks")
    with op.batch_alter_table("workspace_integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workspace_integrations_next_sync_at"))
        batch_op.drop_column("schedule_skip_reason")
        batch_op.drop_column("schedule_skips")
        batch_op.drop_column("next_sync_at")
        batch_op.drop_column("sync_interval_minutes")
