from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, TimestampMixin
from platform_server.webhook_events.models import WebhookEvent


class StripeSubscription(IdMixin, TimestampMixin, Base):
    """Our copy of one Stripe subscription, with the position of the event that last changed it.

    Stripe delivers events out of order and more than once; `last_event_created` (Stripe's own clock) and the
    status precedence decide whether an incoming event is newer than what is stored. The team's plan columns
    are derived from these rows, so an old canceled subscription never downgrades a team with a new one.
    """

    __tablename__ = "stripe_subscriptions"

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(40))
    price_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    current_period_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    last_event_created: Mapped[int] = mapped_column(BigInteger)
    last_event_id: Mapped[str] = mapped_column(String(255))


class StripePendingEvent(Base):
    """A stored Stripe event whose customer no team is bound to yet: applied, in `created` order, once one is.

    Apart from `webhook_events` so that the lookup a binding makes (by customer) reads a table that holds only
    the few events still waiting, through its own index. The row goes once the event is applied.
    """

    __tablename__ = "stripe_pending_events"

    webhook_event_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey(WebhookEvent.id, ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(255), index=True)
    # Stripe's `created` of the event: the order in which waiting events are applied.
    event_created: Mapped[int] = mapped_column(BigInteger)
