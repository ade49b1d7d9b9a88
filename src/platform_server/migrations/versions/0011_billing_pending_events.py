"""Stripe events waiting for their team: stripe_pending_events, filled with the unapplied events stored so far

Revision ID: 0011_billing_pending_events
Revises: 0010_oauth_state_binding
Create Date: 2026-12-02 14:30:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011_billing_pending_events"
down_revision: str | Sequence[str] | None = "0010_oauth_state_binding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The event types billing applies to a team; others are stored and acknowledged only.
_APPLIED_TYPES = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_failed",
)


def upgrade() -> None:
    pending = op.create_table(
        "stripe_pending_events",
        sa.Column("webhook_event_id", sa.String(length=20), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("event_created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_event_id"],
            ["webhook_events.id"],
            name=op.f("fk_stripe_pending_events_webhook_event_id_webhook_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("webhook_event_id", name=op.f("pk_stripe_pending_events")),
    )
    with op.batch_alter_table("stripe_pending_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stripe_pending_events_stripe_customer_id"), ["stripe_customer_id"], unique=False
        )
    # Events stored before this revision for a customer no team was bound to were never applied: list them,
    # so the binding of their customer applies them.
    events = sa.table(
        "webhook_events",
        sa.column("id", sa.String()),
        sa.column("source", sa.String()),
        sa.column("type", sa.String()),
        sa.column("payload", sa.JSON()),
        sa.column("processed_at", sa.DateTime()),
    )
    rows = op.get_bind().execute(
        sa.select(events.c.id, events.c.payload).where(
            events.c.source == "stripe", events.c.processed_at.is_(None), events.c.type.in_(_APPLIED_TYPES)
        )
    )
    waiting = [
        {"webhook_event_id": row_id, "stripe_customer_id": customer, "event_created": payload["created"]}
        for row_id, payload in rows
        if (customer := _customer(payload)) is not None and isinstance(payload.get("created"), int)
    ]
    if waiting:
        op.bulk_insert(pending, waiting)


def _customer(payload: dict[str, Any]) -> str | None:
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    customer = obj.get("customer") if isinstance(obj, dict) else None
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) else None


def downgrade() -> None:
    with op.batch_alter_table("stripe_pending_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stripe_pending_events_stripe_customer_id"))
    op.drop_table("stripe_pending_events")
