"""oauth_states.user_id: an authorization is finished only by the user who started it

Pending states from before this revision carry no user; they are deleted (they live 10 minutes at most, and
the integrations they were for stay pending, ready for Reconnect).

Revision ID: 0010_oauth_state_binding
Revises: 0009_user_token_rotation
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_oauth_state_binding"
down_revision: str | Sequence[str] | None = "0009_user_token_rotation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM oauth_states")
    with op.batch_alter_table("oauth_states") as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=20), nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_oauth_states_user_id_users"), "users", ["user_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_states") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_oauth_states_user_id_users"), type_="foreignkey")
        batch_op.drop_column("user_id")
