"""Slack user tokens under token rotation: their own refresh token and expiry

Revision ID: 0009_user_token_rotation
Revises: 0008_assistant
Create Date: 2026-11-29 12:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0009_user_token_rotation"
down_revision: str | Sequence[str] | None = "0008_assistant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch_op:
        batch_op.add_column(sa.Column("user_refresh_token_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("user_token_expires_at", platform_server.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("integrations") as batch_op:
        batch_op.drop_column("user_token_expires_at")
        batch_op.drop_column("user_refresh_token_encrypted")
