from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, TimestampMixin, utcnow


class EmailStatus(StrEnum):
    queued = "queued"
    scheduled = "scheduled"
    sent = "sent"
    delivery_delayed = "delivery_delayed"
    delivered = "delivered"
    opened = "opened"
    clicked = "clicked"
    complained = "complained"
    failed = "failed"
    suppressed = "suppressed"
    bounced = "bounced"


class Email(IdMixin, TimestampMixin, Base):
    """One message to one recipient, with every delivery event Resend reported for it."""

    __tablename__ = "emails"

    team_id: Mapped[str | None] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    # Kept until the job that sends the email has read it: the request only records, a worker sends.
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30), default=EmailStatus.queued)
    # Sent to Resend as Idempotency-Key as well, so a retried send can never deliver twice.
    idempotency_key: Mapped[str] = mapped_column(String(256), unique=True)
    resend_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class EmailSuppression(IdMixin, Base):
    """An address we no longer send to: it bounced permanently or its owner marked us as spam."""

    __tablename__ = "email_suppressions"

    address: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
