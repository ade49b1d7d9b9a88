"""Stripe events → the team's plan and billing state, applied once and never older-over-newer."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.billing.models import StripeSubscription
from platform_server.billing.repository import BillingRepository
from platform_server.config import Settings
from platform_server.email.sender import EmailSender
from platform_server.email.service import email_service
from platform_server.log import get_logger
from platform_server.teams.models import Plan, Team
from platform_server.teams.service import team_service
from platform_server.webhook_events.models import WebhookSource
from platform_server.webhook_events.repository import WebhookEventRepository

logger = get_logger("platform_server.billing")

ENTITLED_STATUSES = frozenset({"active", "trialing"})
# Once canceled (or expired before its first payment) a Stripe subscription never comes back.
TERMINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
# Breaks ties between events created in the same second: the later stage of the lifecycle wins.
STATUS_PRECEDENCE = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "past_due": 3,
    "unpaid": 4,
    "paused": 5,
    "incomplete_expired": 6,
    "canceled": 7,
}
SUBSCRIPTION_EVENTS = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
PAYMENT_FAILED = "invoice.payment_failed"


@dataclass(frozen=True, slots=True)
class StripeOutcome:
    duplicate: bool
    # Teams whose plan changed: the caller tells the rate limiter once the transaction has committed.
    plan_changed_team_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    subscription_id: str
    customer_id: str | None
    status: str
    price_ids: list[str]
    current_period_end: datetime | None
    cancel_at_period_end: bool
    team_id_hint: str | None


@dataclass(frozen=True, slots=True)
class EventPosition:
    """Where an event sits in a subscription's history: Stripe's `created`, then status, then the id."""

    created: int
    status: str
    event_id: str

    def is_newer_than(self, subscription: StripeSubscription) -> bool:
        if subscription.status in TERMINAL_STATUSES and self.status not in TERMINAL_STATUSES:
            return False
        mine = (self.created, STATUS_PRECEDENCE.get(self.status, -1), self.event_id)
        stored = (
            subscription.last_event_created,
            STATUS_PRECEDENCE.get(subscription.status, -1),
            subscription.last_event_id,
        )
        return mine > stored


@dataclass(frozen=True, slots=True)
class Applied:
    processed: bool
    plan_changed_team_id: str | None = None


class BillingService:
    async def get_billing(self, session: AsyncSession, principal: Principal) -> Team:
        team, _ = await team_service.me(session, principal)
        return team

    async def handle_stripe_event(
        self, session: AsyncSession, settings: Settings, sender: EmailSender, event: dict[str, Any]
    ) -> StripeOutcome:
        """Stores the event once by id and applies it in the caller's transaction: both commit or neither."""
        events = WebhookEventRepository(session)
        row_id = await events.insert_once(WebhookSource.stripe, event["id"], event["type"], event)
        if row_id is None:
            return StripeOutcome(duplicate=True)
        if event["type"] not in SUBSCRIPTION_EVENTS and event["type"] != PAYMENT_FAILED:
            return StripeOutcome(duplicate=False)
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            logger.warning("stripe_event_without_object", event_id=event["id"], type=event["type"])
            return StripeOutcome(duplicate=False)
        if event["type"] == PAYMENT_FAILED:
            applied = await self._payment_failed(session, settings, sender, event, obj)
        else:
            applied = await self._subscription_changed(session, settings, event, obj)
        if applied.processed:
            await events.mark_processed(row_id)
        await session.flush()
        changed = (applied.plan_changed_team_id,) if applied.plan_changed_team_id else ()
        return StripeOutcome(duplicate=False, plan_changed_team_ids=changed)

    async def _subscription_changed(
        self, session: AsyncSession, settings: Settings, event: dict[str, Any], obj: dict[str, Any]
    ) -> Applied:
        snapshot = _parse_subscription(obj)
        if snapshot is None:
            logger.warning("stripe_subscription_unreadable", event_id=event["id"])
            return Applied(processed=False)
        repository = BillingRepository(session)
        team = await self._find_team(
            repository, snapshot.subscription_id, snapshot.team_id_hint, snapshot.customer_id
        )
        if team is None:
            logger.warning("stripe_event_for_unknown_team", event_id=event["id"], type=event["type"])
            return Applied(processed=False)
        subscriptions = await repository.team_subscriptions(team.id)
        subscription = _find(subscriptions, snapshot.subscription_id)
        position = EventPosition(event["created"], snapshot.status, event["id"])
        if subscription is None:
            subscription = repository.add(
                StripeSubscription(team_id=team.id, stripe_subscription_id=snapshot.subscription_id)
            )
            subscriptions.append(subscription)
        elif not position.is_newer_than(subscription):
            logger.info("stripe_event_older_than_state", event_id=event["id"], status=subscription.status)
            return Applied(processed=True)
        subscription.stripe_customer_id = snapshot.customer_id
        subscription.status = snapshot.status
        subscription.price_ids = snapshot.price_ids
        subscription.current_period_end = snapshot.current_period_end
        subscription.cancel_at_period_end = snapshot.cancel_at_period_end
        subscription.last_event_created = position.created
        subscription.last_event_id = position.event_id
        await self._remember_customer(repository, team, snapshot.customer_id)
        changed = _derive_team_billing(team, subscriptions, settings)
        return Applied(processed=True, plan_changed_team_id=changed)

    async def _payment_failed(
        self,
        session: AsyncSession,
        settings: Settings,
        sender: EmailSender,
        event: dict[str, Any],
        invoice: dict[str, Any],
    ) -> Applied:
        invoice_id = invoice.get("id")
        if not isinstance(invoice_id, str):
            return Applied(processed=False)
        subscription_id, metadata_team_id = _invoice_subscription(invoice)
        customer_id = _customer_id(invoice.get("customer"))
        repository = BillingRepository(session)
        team = await self._find_team(repository, subscription_id, metadata_team_id, customer_id)
        if team is None:
            logger.warning("stripe_event_for_unknown_team", event_id=event["id"], type=event["type"])
            return Applied(processed=False)
        subscriptions = await repository.team_subscriptions(team.id)
        subscription = _find(subscriptions, subscription_id) if subscription_id else None
        plan_changed_team_id = None
        if subscription is None:
            team.billing_status = "past_due"
        elif EventPosition(event["created"], "past_due", event["id"]).is_newer_than(subscription):
            subscription.status = "past_due"
            subscription.last_event_created = event["created"]
            subscription.last_event_id = event["id"]
            plan_changed_team_id = _derive_team_billing(team, subscriptions, settings)
        await self._email_owners_payment_failed(session, settings, sender, team, invoice, invoice_id)
        return Applied(processed=True, plan_changed_team_id=plan_changed_team_id)

    async def _email_owners_payment_failed(
        self,
        session: AsyncSession,
        settings: Settings,
        sender: EmailSender,
        team: Team,
        invoice: dict[str, Any],
        invoice_id: str,
    ) -> None:
        attempt = invoice.get("attempt_count")
        attempt = attempt if isinstance(attempt, int) else 0
        subject, text = _payment_failed_message(team, invoice, attempt)
        for owner in await BillingRepository(session).team_owners(team.id):
            # One email per owner per payment attempt, however often Stripe delivers the event.
            await email_service.send(
                session,
                sender,
                settings,
                to=owner.email,
                subject=subject,
                text=text,
                kind="payment_failed",
                idempotency_key=f"stripe-payment-failed/{invoice_id}/{attempt}/{owner.id}",
                team_id=team.id,
            )

    async def _find_team(
        self,
        repository: BillingRepository,
        subscription_id: str | None,
        metadata_team_id: str | None,
        customer_id: str | None,
    ) -> Team | None:
        """A subscription we already know keeps its team; otherwise metadata.team_id, then the customer id."""
        known_team_id = await repository.subscription_team_id(subscription_id) if subscription_id else None
        for team_id in (known_team_id, metadata_team_id):
            if team_id is not None and (team := await repository.lock_team(team_id)) is not None:
                return team
        return await repository.lock_team_by_customer(customer_id) if customer_id else None

    async def _remember_customer(
        self, repository: BillingRepository, team: Team, customer_id: str | None
    ) -> None:
        if customer_id is None or team.stripe_customer_id is not None:
            return
        if await repository.customer_is_taken(customer_id):
            logger.warning("stripe_customer_belongs_to_another_team", team_id=team.id)
            return
        team.stripe_customer_id = customer_id


def _derive_team_billing(
    team: Team, subscriptions: list[StripeSubscription], settings: Settings
) -> str | None:
    """Mirrors the team's most relevant subscription onto the team; returns its id if the plan changed."""
    pro_price_ids = set(settings.STRIPE_PRO_PRICE_IDS)

    def entitles_pro(subscription: StripeSubscription) -> bool:
        entitled = subscription.status in ENTITLED_STATUSES
        return entitled and not pro_price_ids.isdisjoint(subscription.price_ids)

    primary = max(
        subscriptions,
        key=lambda s: (
            entitles_pro(s), s.status not in TERMINAL_STATUSES, s.last_event_created, s.last_event_id
        ),
    )
    previous_plan = team.plan
    team.plan = Plan.pro if entitles_pro(primary) else Plan.free
    team.billing_status = primary.status
    team.stripe_subscription_id = primary.stripe_subscription_id
    team.plan_period_end = primary.current_period_end
    team.cancel_at_period_end = primary.cancel_at_period_end
    return team.id if team.plan != previous_plan else None


def _find(subscriptions: list[StripeSubscription], subscription_id: str | None) -> StripeSubscription | None:
    return next((s for s in subscriptions if s.stripe_subscription_id == subscription_id), None)


def _parse_subscription(obj: dict[str, Any]) -> SubscriptionSnapshot | None:
    subscription_id, status = obj.get("id"), obj.get("status")
    if not isinstance(subscription_id, str) or not isinstance(status, str):
        return None
    items = obj.get("items")
    item_list = items.get("data") if isinstance(items, dict) else None
    item_list = [item for item in item_list if isinstance(item, dict)] if isinstance(item_list, list) else []
    prices = [item["price"] for item in item_list if isinstance(item.get("price"), dict)]
    price_ids = [price["id"] for price in prices if isinstance(price.get("id"), str)]
    # Since API version 2025-03-31.basil the period lives on each item; before, on the subscription.
    period_ends = [end for item in item_list if isinstance(end := item.get("current_period_end"), int)]
    if not period_ends and isinstance(obj.get("current_period_end"), int):
        period_ends = [obj["current_period_end"]]
    metadata = obj.get("metadata")
    team_id_hint = metadata.get("team_id") if isinstance(metadata, dict) else None
    return SubscriptionSnapshot(
        subscription_id=subscription_id,
        customer_id=_customer_id(obj.get("customer")),
        status=status,
        price_ids=price_ids,
        current_period_end=datetime.fromtimestamp(max(period_ends), UTC) if period_ends else None,
        cancel_at_period_end=obj.get("cancel_at_period_end") is True,
        team_id_hint=team_id_hint if isinstance(team_id_hint, str) else None,
    )


def _invoice_subscription(invoice: dict[str, Any]) -> tuple[str | None, str | None]:
    """(subscription id, metadata.team_id): basil moved both under parent.subscription_details."""
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    details = details if isinstance(details, dict) else {}
    subscription = details.get("subscription", invoice.get("subscription"))
    if isinstance(subscription, dict):
        subscription = subscription.get("id")
    metadata = details.get("metadata")
    team_id = metadata.get("team_id") if isinstance(metadata, dict) else None
    return (
        subscription if isinstance(subscription, str) else None,
        team_id if isinstance(team_id, str) else None,
    )


def _customer_id(customer: object) -> str | None:
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) else None


def _payment_failed_message(team: Team, invoice: dict[str, Any], attempt: int) -> tuple[str, str]:
    amount = invoice.get("amount_due")
    currency = invoice.get("currency")
    amount_text = "the amount due"
    if isinstance(amount, int) and isinstance(currency, str):
        amount_text = f"{amount / 100:.2f} {currency.upper()}"
    next_attempt = invoice.get("next_payment_attempt")
    retry_text = (
        f"Stripe will try again on {datetime.fromtimestamp(next_attempt, UTC):%Y-%m-%d %H:%M} UTC."
        if isinstance(next_attempt, int)
        else "No further automatic attempt is scheduled."
    )
    lines = [
        "Hello,",
        "",
        f"We could not collect the payment of {amount_text} for the Platform subscription of {team.name}"
        f" (attempt {attempt}).",
        retry_text,
    ]
    url = invoice.get("hosted_invoice_url")
    if isinstance(url, str):
        lines += ["", f"Pay the invoice or update the payment method: {url}"]
    return f"Payment failed for {team.name}", "\n".join(lines)


billing_service = BillingService()
