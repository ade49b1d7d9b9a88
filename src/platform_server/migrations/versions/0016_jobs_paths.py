"""Work that leaves the request: an email's body waits on its row for the job that sends it; expired OAuth
states are found by expiry

Revision ID: 0016_jobs_paths
Revises: 0015_sync_triggers
Create Date: 2026-12-02 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_jobs_paths"
down_revision: str | Sequence[str] | None = "0015_sync_triggers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("emails") as batch_op:
        batch_op.add_column(sa.Column("text_body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("html_body", sa.Text(), nullable=True))
    with op.batch_alter_table("oauth_states") as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_states_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_states") as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_expires_at"))
    with op.batch_alter_table("emails") as batch_op:
        batch_op.drop_column("html_body")
        batch_op.drop_column("text_body")
