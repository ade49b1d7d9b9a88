"""integrations, oauth_states, sync_logs, workspace_integrations

Revision ID: 0002_integrations
Revises: 0001_foundation
Create Date: 2026-11-29 09:13:20.090127
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0002_integrations"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("provider_account_id", sa.String(length=255), nullable=True),
        sa.Column("provider_account_name", sa.String(length=255), nullable=True),
        sa.Column("account_metadata", sa.JSON(), nullable=False),
        sa.Column("access_token_encrypted", sa.Text(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("user_token_encrypted", sa.Text(), nullable=True),
        sa.Column("token_key_id", sa.String(length=40), nullable=True),
        sa.Column("token_expires_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("token_refreshed_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("connected_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=20), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_integrations_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
        sa.UniqueConstraint("team_id", "name", name=op.f("uq_integrations_team_id_name")),
        sa.UniqueConstraint("team_id", "provider", "provider_account_id", name="uq_integrations_account"),
    )
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_integrations_team_id"), ["team_id"], unique=False)

    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("integration_id", sa.String(length=20), nullable=False),
        sa.Column("code_verifier_encrypted", sa.Text(), nullable=True),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_oauth_states_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_oauth_states_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_states_integration_id"), ["integration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_states_team_id"), ["team_id"], unique=False)

    op.create_table(
        "sync_logs",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("integration_id", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=20), nullable=True),
        sa.Column("sync_type", sa.String(length=20), nullable=False),
        sa.Column("source_entity", sa.String(length=40), nullable=True),
        sa.Column("target_entity", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("items_synced", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sync_logs_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_sync_logs_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_sync_logs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_logs")),
    )
    with op.batch_alter_table("sync_logs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_logs_integration_started", ["integration_id", "started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sync_logs_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sync_logs_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "workspace_integrations",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=20), nullable=False),
        sa.Column("integration_id", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("enabled_tools", sa.JSON(), nullable=False),
        sa.Column("default_project", sa.String(length=500), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_workspace_integrations_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_workspace_integrations_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_integrations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_integrations")),
        sa.UniqueConstraint(
            "workspace_id",
            "integration_id",
            name=op.f("uq_workspace_integrations_workspace_id_integration_id"),
        ),
        sa.UniqueConstraint("workspace_id", "provider", name="uq_workspace_integrations_provider"),
    )
    with op.batch_alter_table("workspace_integrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workspace_integrations_integration_id"), ["integration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workspace_integrations_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("workspace_integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workspace_integrations_team_id"))
        batch_op.drop_index(batch_op.f("ix_workspace_integrations_integration_id"))

    op.drop_table("workspace_integrations")
    with op.batch_alter_table("sync_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_logs_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_sync_logs_team_id"))
        batch_op.drop_index("ix_sync_logs_integration_started")

    op.drop_table("sync_logs")
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_team_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_states_integration_id"))

    op.drop_table("oauth_states")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integrations_team_id"))

    op.drop_table("integrations")
