"""Remote MCP servers as integrations of kind "mcp": how to reach each upstream (secret encrypted) and its tools
with their approved definitions; workspace_integrations.provider widened for `mcp:<slug>`

Revision ID: 0013_remote_mcp
Revises: 0012_oauth_server
Create Date: 2026-12-02 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0013_remote_mcp"
down_revision: str | Sequence[str] | None = "0012_oauth_server"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Utc = platform_server.db.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str, target_column: str = "id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{target_column}"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "remote_mcp_servers",
        sa.Column("integration_id", sa.String(length=20), nullable=False),
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("transport", sa.String(length=20), nullable=False),
        sa.Column("auth_type", sa.String(length=20), nullable=False),
        sa.Column("header_name", sa.String(length=100), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("server_name", sa.String(length=200), nullable=True),
        sa.Column("server_version", sa.String(length=100), nullable=True),
        sa.Column("protocol_version", sa.String(length=40), nullable=True),
        sa.Column("tools_refreshed_at", _Utc, nullable=True),
        sa.Column("created_at", _Utc, nullable=False),
        sa.Column("updated_at", _Utc, nullable=False),
        _fk("remote_mcp_servers", "integration_id", "integrations"),
        _fk("remote_mcp_servers", "team_id", "teams"),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_remote_mcp_servers")),
        sa.UniqueConstraint("team_id", "slug", name=op.f("uq_remote_mcp_servers_team_id_slug")),
    )
    op.create_index(op.f("ix_remote_mcp_servers_team_id"), "remote_mcp_servers", ["team_id"])
    op.create_table(
        "remote_mcp_tools",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("integration_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("definition_hash", sa.String(length=64), nullable=False),
        sa.Column("approved_definition", sa.JSON(), nullable=True),
        sa.Column("approved_hash", sa.String(length=64), nullable=True),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("created_at", _Utc, nullable=False),
        sa.Column("updated_at", _Utc, nullable=False),
        _fk("remote_mcp_tools", "integration_id", "remote_mcp_servers", "integration_id"),
        _fk("remote_mcp_tools", "team_id", "teams"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_mcp_tools")),
        sa.UniqueConstraint("integration_id", "name", name=op.f("uq_remote_mcp_tools_integration_id_name")),
    )
    op.create_index(op.f("ix_remote_mcp_tools_team_id"), "remote_mcp_tools", ["team_id"])
    with op.batch_alter_table("workspace_integrations") as batch_op:
        batch_op.alter_column(
            "provider", existing_type=sa.String(length=20), type_=sa.String(length=50), existing_nullable=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM workspace_integrations WHERE provider LIKE 'mcp:%'")
    with op.batch_alter_table("workspace_integrations") as batch_op:
        batch_op.alter_column(
            "provider", existing_type=sa.String(length=50), type_=sa.String(length=20), existing_nullable=False
        )
    op.drop_index(op.f("ix_remote_mcp_tools_team_id"), table_name="remote_mcp_tools")
    op.drop_table("remote_mcp_tools")
    op.drop_index(op.f("ix_remote_mcp_servers_team_id"), table_name="remote_mcp_servers")
    op.drop_table("remote_mcp_servers")
    op.execute("DELETE FROM integrations WHERE provider = 'mcp'")
