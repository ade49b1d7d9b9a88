from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdMixin, utcnow


class WebhookSource(StrEnum):
    stripe = "stripe"
    resend = "resend"
    github = "github"
    linear = "linear"
    jira = "jira"


class WebhookOutcome(StrEnum):
    """What became of one delivery (the `outcome` label of platform_webhook_events_total)."""

    processed = "processed"  # applied now
    duplicate = "duplicate"  # an event id already received: nothing changed
    ignored = "ignored"  # stored and acknowledged, nothing to apply (a type or an object we do not act on)
    deferred = "deferred"  # stored, applied once what it refers to exists (a Stripe customer not bound yet)
    failed = "failed"  # signed, but refused (unusable body) or an error while applying it
    invalid_signature = "invalid_signature"


EXTERNAL_ID_LENGTH = 255
TYPE_LENGTH = 100


class WebhookEvent(IdMixin, Base):
    """Every verified delivery, stored once per provider id: the unique key is what makes redelivery harmless.

    The row is inserted in the same transaction as the event's effect, so a stored event has been applied
    (or deliberately ignored, with `processed_at` left empty) and a failed one leaves no row behind. A Stripe
    event that names a customer no team is bound to yet also stays unprocessed, listed in
    `stripe_pending_events` until its team is known (billing.service).
    """

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    source: Mapped[str] = mapped_column(String(20))
    # Stripe's event id, or Resend's svix-id (Resend payloads carry no id of their own).
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    type: Mapped[str] = mapped_column(String(TYPE_LENGTH))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
