"""foundation

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-29 09:03:09.041496
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0001_foundation"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=20), nullable=False),
        sa.Column("billing_status", sa.String(length=40), nullable=True),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=True),
        sa.Column("plan_period_end", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_teams_stripe_customer_id")),
    )
    op.create_table(
        "users",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_users_team_id_teams"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("team_id", "email", name=op.f("uq_users_team_id_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_team_id"), ["team_id"], unique=False)

    op.create_table(
        "workspaces",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_workspaces_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workspaces_team_id"), ["team_id"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_api_keys_team_id_teams"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "features",
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("integration_id", sa.String(length=20), nullable=True),
        sa.Column("source_provider", sa.String(length=20), nullable=True),
        sa.Column("source_entity", sa.String(length=40), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("source_created_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source_updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_features_team_id_teams"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_features_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features")),
        sa.UniqueConstraint(
            "workspace_id", "integration_id", "source_entity", "external_id", name="uq_features_source"
        ),
    )
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.create_index("ix_features_team_id_workspace_id_id", ["team_id", "workspace_id", "id"], unique=False)

    op.create_table(
        "work_items",
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("assignee", sa.String(length=255), nullable=True),
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("integration_id", sa.String(length=20), nullable=True),
        sa.Column("source_provider", sa.String(length=20), nullable=True),
        sa.Column("source_entity", sa.String(length=40), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("source_created_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source_updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_work_items_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_work_items_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
        sa.UniqueConstraint(
            "workspace_id", "integration_id", "source_entity", "external_id", name="uq_work_items_source"
        ),
    )
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index("ix_work_items_team_id_workspace_id_id", ["team_id", "workspace_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_team_id_workspace_id_id")

    op.drop_table("work_items")
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_index("ix_features_team_id_workspace_id_id")

    op.drop_table("features")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))
        batch_op.drop_index(batch_op.f("ix_api_keys_team_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workspaces_team_id"))

    op.drop_table("workspaces")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_team_id"))

    op.drop_table("users")
    op.drop_table("teams")
