import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, delete, func, insert, select, update

from platform_server.billing.models import StripePendingEvent, StripeSubscription
from platform_server.db import utcnow
from platform_server.ids import is_valid_id, new_id
from platform_server.sqlite_inline import PreparedStatement, PreparedTransaction
from platform_server.teams.models import Plan, Role, Team, User
from platform_server.webhook_events.models import WebhookEvent, WebhookSource


@dataclass(slots=True)
class TeamBilling:
    """A team's billing columns as one Stripe event reads and changes them (written back by `save_*`)."""

    id: str
    name: str
    plan: str
    billing_status: str | None
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    plan_period_end: datetime | None
    cancel_at_period_end: bool

    def derived(self) -> tuple[Any, ...]:
        """The columns derived from the team's subscriptions (`save_derived` writes them)."""
        return (
            self.plan,
            self.billing_status,
            self.stripe_subscription_id,
            self.plan_period_end,
            self.cancel_at_period_end,
        )


@dataclass(slots=True)
class SubscriptionState:
    """One stripe_subscriptions row as an event reads and changes it; `id` is None until it is inserted."""

    id: str | None
    team_id: str
    stripe_subscription_id: str
    stripe_customer_id: str | None = None
    status: str = ""
    price_ids: list[str] = field(default_factory=list)
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    last_event_created: int = 0
    last_event_id: str = ""


def _columns(table: Any, names: Sequence[str]) -> list[Any]:
    return [table.c[name] for name in names]


_teams = Team.metadata.tables[Team.__tablename__]
_subscriptions = StripeSubscription.metadata.tables[StripeSubscription.__tablename__]
_TEAM_COLUMNS = _columns(_teams, [f.name for f in fields(TeamBilling)])
_SUBSCRIPTION_NAMES = [f.name for f in fields(SubscriptionState)]
_DERIVED = ("plan", "billing_status", "stripe_subscription_id", "plan_period_end", "cancel_at_period_end")

# Built once, run past the ORM (PreparedStatement): every Stripe event runs them, and loading and flushing ORM
# entities cost several times the statements themselves on SQLite.
_subscription_team_id = PreparedStatement(
    select(StripeSubscription.team_id).where(
        StripeSubscription.stripe_subscription_id == bindparam("stripe_subscription_id")
    )
)
_lock_team = PreparedStatement(select(*_TEAM_COLUMNS).where(_teams.c.id == bindparam("team_id")).with_for_update())
_lock_team_by_customer = PreparedStatement(
    select(*_TEAM_COLUMNS).where(_teams.c.stripe_customer_id == bindparam("stripe_customer_id")).with_for_update()
)
_save_derived = PreparedStatement(
    update(_teams)
    .where(_teams.c.id == bindparam("team_id"))
    .values({name: bindparam(name) for name in (*_DERIVED, "updated_at")})
)
_save_customer = PreparedStatement(
    update(_teams)
    .where(_teams.c.id == bindparam("team_id"))
    .values(stripe_customer_id=bindparam("stripe_customer_id"), updated_at=bindparam("updated_at"))
)
_team_subscriptions = PreparedStatement(
    select(*_columns(_subscriptions, _SUBSCRIPTION_NAMES)).where(_subscriptions.c.team_id == bindparam("team_id"))
)
_SUBSCRIPTION_WRITTEN = [name for name in _SUBSCRIPTION_NAMES if name not in ("id", "team_id")]
_insert_subscription = PreparedStatement(
    insert(_subscriptions).values(
        {name: bindparam(name) for name in (*_SUBSCRIPTION_NAMES, "created_at", "updated_at")}
    )
)
_update_subscription = PreparedStatement(
    update(_subscriptions)
    .where(_subscriptions.c.id == bindparam("subscription_row_id"))
    .values({name: bindparam(name) for name in (*_SUBSCRIPTION_WRITTEN, "updated_at")})
)
_OWNER: list[Any] = [User.id, User.email]
_team_owners = PreparedStatement(
    select(*_OWNER).where(User.team_id == bindparam("team_id"), User.role == Role.owner).order_by(User.id)
)
# Every redelivered Stripe event asks it.
_PENDING: list[Any] = [StripePendingEvent.webhook_event_id, StripePendingEvent.stripe_customer_id]
_pending_event = PreparedStatement(
    select(*_PENDING)
    .join(WebhookEvent, WebhookEvent.id == StripePendingEvent.webhook_event_id)
    .where(WebhookEvent.source == WebhookSource.stripe, WebhookEvent.external_id == bindparam("stripe_event_id"))
)

_customer_taken = PreparedStatement(select(_teams.c.id).where(_teams.c.stripe_customer_id == bindparam("customer_id")))
# Serializes, per Stripe customer, storing an event as waiting and binding the customer (PostgreSQL only).
_advisory_lock = PreparedStatement(select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger))))
_add_pending = PreparedStatement(
    insert(StripePendingEvent).values(
        webhook_event_id=bindparam("webhook_event_id"),
        stripe_customer_id=bindparam("stripe_customer_id"),
        event_created=bindparam("event_created"),
    )
)
_pending_for_customer = PreparedStatement(
    select(WebhookEvent.id, WebhookEvent.payload)
    .join(StripePendingEvent, StripePendingEvent.webhook_event_id == WebhookEvent.id)
    .where(StripePendingEvent.stripe_customer_id == bindparam("stripe_customer_id"))
    .order_by(StripePendingEvent.event_created, WebhookEvent.id)
)
_remove_pending = PreparedStatement(
    delete(StripePendingEvent).where(StripePendingEvent.webhook_event_id == bindparam("webhook_event_id"))
)
_waiting_customers_with_team = PreparedStatement(
    select(StripePendingEvent.stripe_customer_id)
    .join(Team, Team.stripe_customer_id == StripePendingEvent.stripe_customer_id)
    .distinct()
    .order_by(StripePendingEvent.stripe_customer_id)
    .limit(bindparam("limit"))
)
_WAITED: list[Any] = [
    StripePendingEvent.webhook_event_id,
    WebhookEvent.external_id,
    StripePendingEvent.stripe_customer_id,
]
_pending_created_before = PreparedStatement(
    select(*_WAITED)
    .join(WebhookEvent, WebhookEvent.id == StripePendingEvent.webhook_event_id)
    .where(StripePendingEvent.event_created < bindparam("created_before"))
    .order_by(StripePendingEvent.event_created)
    .limit(bindparam("limit"))
)
_TEAM_SUBSCRIPTION: list[Any] = [Team.id, Team.stripe_subscription_id]
_pro_team_subscriptions = PreparedStatement(
    select(*_TEAM_SUBSCRIPTION)
    .where(Team.plan == Plan.pro, Team.stripe_subscription_id.is_not(None), Team.id > bindparam("after_team_id"))
    .order_by(Team.id)
    .limit(bindparam("limit"))
)


class BillingRepository:
    """Queries for Stripe webhooks, which act for the platform: the team is what the event resolves to. Every
    one is a prepared statement, run in the event's `PreparedTransaction`."""

    def __init__(self, transaction: PreparedTransaction) -> None:
        self.transaction = transaction

    async def subscription_team_id(self, stripe_subscription_id: str) -> str | None:
        rows = await self.transaction.rows(_subscription_team_id, {"stripe_subscription_id": stripe_subscription_id})
        team_id: str | None = rows[0]["team_id"] if rows else None
        return team_id

    async def lock_team(self, team_id: str) -> TeamBilling | None:
        """The row lock serializes concurrent events for a team on PostgreSQL; SQLite's write lock does so."""
        if not is_valid_id(team_id):
            return None
        rows = await self.transaction.rows(_lock_team, {"team_id": team_id})
        return TeamBilling(**rows[0]) if rows else None

    async def lock_team_by_customer(self, stripe_customer_id: str) -> TeamBilling | None:
        rows = await self.transaction.rows(_lock_team_by_customer, {"stripe_customer_id": stripe_customer_id})
        return TeamBilling(**rows[0]) if rows else None

    async def save_derived(self, team: TeamBilling) -> None:
        values = dict(zip(_DERIVED, team.derived(), strict=True))
        await self.transaction.rows(_save_derived, {**values, "team_id": team.id, "updated_at": utcnow()})

    async def save_customer(self, team: TeamBilling) -> None:
        await self.transaction.rows(
            _save_customer,
            {"team_id": team.id, "stripe_customer_id": team.stripe_customer_id, "updated_at": utcnow()},
        )

    async def customer_is_taken(self, stripe_customer_id: str) -> bool:
        return bool(await self.transaction.rows(_customer_taken, {"customer_id": stripe_customer_id}))

    async def team_subscriptions(self, team_id: str) -> list[SubscriptionState]:
        rows = await self.transaction.rows(_team_subscriptions, {"team_id": team_id})
        return [SubscriptionState(**row) for row in rows]

    async def save_subscription(self, subscription: SubscriptionState) -> None:
        """Inserts a subscription read for the first time (giving it its id), else updates its row."""
        values = {name: getattr(subscription, name) for name in _SUBSCRIPTION_WRITTEN}
        now = utcnow()
        if subscription.id is None:
            subscription.id = new_id()
            await self.transaction.rows(
                _insert_subscription,
                {
                    **values,
                    "id": subscription.id,
                    "team_id": subscription.team_id,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            return
        await self.transaction.rows(
            _update_subscription, {**values, "subscription_row_id": subscription.id, "updated_at": now}
        )

    async def lock_customer(self, stripe_customer_id: str) -> None:
        """Serializes, per Stripe customer, storing an event as waiting and binding the customer to a team.

        Without it, on PostgreSQL, an event could miss a binding committed beside it (and wait forever) while the
        binding missed the event. A transaction-scoped advisory lock; on SQLite the write lock, which every
        webhook transaction takes with its first statement, already serializes them.
        """
        if self.transaction.dialect.name != "postgresql":
            return
        digest = hashlib.blake2b(stripe_customer_id.encode(), digest_size=8).digest()
        await self.transaction.rows(_advisory_lock, {"key": int.from_bytes(digest, signed=True)})

    async def add_pending(self, webhook_event_id: str, stripe_customer_id: str, event_created: int) -> None:
        await self.transaction.rows(
            _add_pending,
            {
                "webhook_event_id": webhook_event_id,
                "stripe_customer_id": stripe_customer_id,
                "event_created": event_created,
            },
        )

    async def pending_event(self, stripe_event_id: str) -> tuple[str, str] | None:
        """(webhook event row id, customer) of a stored Stripe event still waiting for its team."""
        rows = await self.transaction.rows(_pending_event, {"stripe_event_id": stripe_event_id})
        return (rows[0]["webhook_event_id"], rows[0]["stripe_customer_id"]) if rows else None

    async def pending_for_customer(self, stripe_customer_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(webhook event row id, event) of every event waiting for this customer's team, oldest first."""
        rows = await self.transaction.rows(_pending_for_customer, {"stripe_customer_id": stripe_customer_id})
        return [(row["id"], row["payload"]) for row in rows]

    async def remove_pending(self, webhook_event_id: str) -> None:
        await self.transaction.rows(_remove_pending, {"webhook_event_id": webhook_event_id})

    async def waiting_customers_with_team(self, limit: int) -> list[str]:
        """Customers with events still waiting although a team is bound to them now (a binding the webhook path
        did not see: written by hand, or before the events were stored as waiting)."""
        rows = await self.transaction.rows(_waiting_customers_with_team, {"limit": limit})
        return [row["stripe_customer_id"] for row in rows]

    async def pending_created_before(self, created_before: int, limit: int) -> list[tuple[str, str, str]]:
        """(webhook event row id, Stripe event id, customer) of events that have waited since before then."""
        rows = await self.transaction.rows(_pending_created_before, {"created_before": created_before, "limit": limit})
        return [(row["webhook_event_id"], row["external_id"], row["stripe_customer_id"]) for row in rows]

    async def pro_team_subscriptions(self, after_team_id: str, limit: int) -> list[tuple[str, str]]:
        """(team id, Stripe subscription id) of Pro teams, in team id order from `after_team_id` (a page)."""
        rows = await self.transaction.rows(_pro_team_subscriptions, {"after_team_id": after_team_id, "limit": limit})
        return [(row["id"], row["stripe_subscription_id"]) for row in rows if row["stripe_subscription_id"] is not None]

    async def team_owners(self, team_id: str) -> list[tuple[str, str]]:
        """(user id, email) of the team's owners."""
        rows = await self.transaction.rows(_team_owners, {"team_id": team_id})
        return [(row["id"], row["email"]) for row in rows]
