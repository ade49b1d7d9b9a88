"""The MCP gateway's OAuth authorization server: clients, consents, authorization codes and tokens (hashed);
tool_calls.oauth_client_id records which OAuth client made a call

Revision ID: 0012_oauth_server
Revises: 0011_billing_pending_events
Create Date: 2026-12-02 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0012_oauth_server"
down_revision: str | Sequence[str] | None = "0011_billing_pending_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Utc = platform_server.db.UTCDateTime(timezone=True)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(length=20), nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        _id(),
        sa.Column("client_id", sa.String(length=2000), nullable=False),
        sa.Column("registration", sa.String(length=20), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("client_uri", sa.String(length=2000), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("registered_from", sa.String(length=64), nullable=True),
        sa.Column("created_at", _Utc, nullable=False),
        sa.Column("fetched_at", _Utc, nullable=True),
        sa.Column("expires_at", _Utc, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    op.create_index(op.f("ix_oauth_clients_registered_from"), "oauth_clients", ["registered_from"])
    op.create_index(op.f("ix_oauth_clients_created_at"), "oauth_clients", ["created_at"])
    op.create_index(op.f("ix_oauth_clients_expires_at"), "oauth_clients", ["expires_at"])

    op.create_table(
        "oauth_consents",
        _id(),
        sa.Column("client_row_id", sa.String(length=20), nullable=False),
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("created_at", _Utc, nullable=False),
        sa.Column("last_used_at", _Utc, nullable=True),
        _fk("oauth_consents", "client_row_id", "oauth_clients"),
        _fk("oauth_consents", "team_id", "teams"),
        _fk("oauth_consents", "user_id", "users"),
        _fk("oauth_consents", "workspace_id", "workspaces"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_consents")),
        sa.UniqueConstraint(
            "client_row_id",
            "user_id",
            "workspace_id",
            name=op.f("uq_oauth_consents_client_row_id_user_id_workspace_id"),
        ),
    )
    for column in ("team_id", "user_id", "workspace_id"):
        op.create_index(op.f(f"ix_oauth_consents_{column}"), "oauth_consents", [column])

    op.create_table(
        "oauth_authorization_codes",
        _id(),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.String(length=20), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("resource", sa.String(length=2000), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("expires_at", _Utc, nullable=False),
        sa.Column("used_at", _Utc, nullable=True),
        _fk("oauth_authorization_codes", "consent_id", "oauth_consents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_authorization_codes_code_hash")),
    )
    op.create_index(op.f("ix_oauth_authorization_codes_consent_id"), "oauth_authorization_codes", ["consent_id"])
    op.create_index(op.f("ix_oauth_authorization_codes_expires_at"), "oauth_authorization_codes", ["expires_at"])

    op.create_table(
        "oauth_tokens",
        _id(),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("consent_id", sa.String(length=20), nullable=False),
        sa.Column("family_id", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.String(length=2000), nullable=False),
        sa.Column("created_at", _Utc, nullable=False),
        sa.Column("expires_at", _Utc, nullable=False),
        sa.Column("rotated_at", _Utc, nullable=True),
        sa.Column("revoked_at", _Utc, nullable=True),
        _fk("oauth_tokens", "consent_id", "oauth_consents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oauth_tokens_token_hash")),
    )
    op.create_index("ix_oauth_tokens_family_id", "oauth_tokens", ["family_id"])
    op.create_index(op.f("ix_oauth_tokens_consent_id"), "oauth_tokens", ["consent_id"])
    op.create_index(op.f("ix_oauth_tokens_expires_at"), "oauth_tokens", ["expires_at"])

    with op.batch_alter_table("tool_calls") as batch_op:
        batch_op.add_column(sa.Column("oauth_client_id", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tool_calls") as batch_op:
        batch_op.drop_column("oauth_client_id")
    op.drop_table("oauth_tokens")
    op.drop_table("oauth_authorization_codes")
    op.drop_table("oauth_consents")
    op.drop_table("oauth_clients")
