"""billing and email: webhook events, Stripe subscriptions, emails, suppressions

Revision ID: 0004_billing_email
Revises: 0003_ai_usage
Create Date: 2026-11-29 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_server.db

revision: str = "0004_billing_email"
down_revision: str | Sequence[str] | None = "0003_ai_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_webhook_events_source_external_id")),
    )
    op.create_table(
        "stripe_subscriptions",
        sa.Column("team_id", sa.String(length=20), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("price_ids", sa.JSON(), nullable=False),
        sa.Column("current_period_end", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_stripe_subscriptions_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_subscriptions")),
        sa.UniqueConstraint("stripe_subscription_id", name=op.f("uq_stripe_subscriptions_stripe_subscription_id")),
    )
    with op.batch_alter_table("stripe_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stripe_subscriptions_team_id"), ["team_id"], unique=False)

    op.create_table(
        "emails",
        sa.Column("team_id", sa.String(length=20), nullable=True),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("idempotency_key", sa.String(length=256), nullable=False),
        sa.Column("resend_id", sa.String(length=100), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", platform_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_emails_team_id_teams"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emails")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_emails_idempotency_key")),
        sa.UniqueConstraint("resend_id", name=op.f("uq_emails_resend_id")),
    )
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emails_team_id"), ["team_id"], unique=False)

    op.create_table(
        "email_suppressions",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", platform_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_suppressions")),
        sa.UniqueConstraint("address", name=op.f("uq_email_suppressions_address")),
    )


def downgrade() -> None:
    op.drop_table("email_suppressions")
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emails_team_id"))

    op.drop_table("emails")
    with op.batch_alter_table("stripe_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stripe_subscriptions_team_id"))

    op.drop_table("stripe_subscriptions")
    op.drop_table("webhook_events")
