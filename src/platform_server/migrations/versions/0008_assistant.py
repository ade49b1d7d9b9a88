"""AI assistant conversations and messages

Revision ID: 0008_assistant
Revises: 0007_sync_cursors
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0008_assistant"
down_revision: str | Sequence[str] | None = "0007_sync_cursors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_conversations",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_ai_conversations_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_conversations_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ai_conversations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_conversations")),
    )
    with op.batch_alter_table("ai_conversations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_conversations_team_id"), ["team_id"], unique=False)
        batch_op.create_index(
            "ix_ai_conversations_ws_user_updated", ["workspace_id", "user_id", "updated_at"], unique=False
        )

    op.create_table(
        "ai_messages",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("conversation_id", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tool_calls", sa.JSON(), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["ai_conversations.id"],
            name=op.f("fk_ai_messages_conversation_id_ai_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_ai_messages_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_messages")),
    )
    with op.batch_alter_table("ai_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_messages_team_id"), ["team_id"], unique=False)
        batch_op.create_index("ix_ai_messages_conversation_id_id", ["conversation_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ai_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_messages_conversation_id_id")
        batch_op.drop_index(batch_op.f("ix_ai_messages_team_id"))

    op.drop_table("ai_messages")
    with op.batch_alter_table("ai_conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_conversations_ws_user_updated")
        batch_op.drop_index(batch_op.f("ix_ai_conversations_team_id"))

    op.drop_table("ai_conversations")
