"""Remote MCP servers authorized with OAuth: the authorization server found by discovery and our client
identity there

Revision ID: 0017_remote_mcp_oauth
Revises: 0016_jobs_paths
Create Date: 2026-12-03 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_remote_mcp_oauth"
down_revision: str | Sequence[str] | None = "0016_jobs_paths"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("remote_mcp_servers") as batch_op:
        batch_op.add_column(sa.Column("oauth_discovery", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("oauth_client_encrypted", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("remote_mcp_servers") as batch_op:
        batch_op.drop_column("oauth_client_encrypted")
        batch_op.drop_column("oauth_discovery")
