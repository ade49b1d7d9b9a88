"""Stripe events → the team's plan and billing state, applied once and never older-over-newer."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.billing.repository import BillingRepository, SubscriptionState, TeamBilling
from platform_server.config import Settings
from platform_server.email.service import email_service
from platform_server.log import get_logger
from platform_server.sqlite_inline import PreparedTransaction
from platform_server.teams.models import Plan, Team
from platform_server.teams.service import team_service
from platform_server.webhook_events.models import WebhookOutcome, WebhookSource
from platform_server.webhook_events.repository import insert_event_once, mark_event_processed

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
CHECKOUT_COMPLETED = "checkout.session.completed"
# Events that tie a Stripe customer to a team; other events for that customer then find the team by it.
CUSTOMER_IDENTIFIED = frozenset({CHECKOUT_COMPLETED, "customer.created", "customer.updated"})
APPLIED_EVENTS = SUBSCRIPTION_EVENTS | CUSTOMER_IDENTIFIED | {PAYMENT_FAILED}


@dataclass(frozen=True, slots=True)
class StripeOutcome:
    outcome: WebhookOutcome
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

    def is_newer_than(self, subscription: SubscriptionState) -> bool:
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
    # The event names a customer that no team is bound to yet: it waits for one (stripe_pending_events).
    waiting_for_customer: str | None = None


@dataclass(slots=True)
class _Delivery:
    """One Stripe delivery being applied, with the teams whose plan it changed (unblocked events included)."""

    transaction: PreparedTransaction
    settings: Settings
    plan_changed: list[str] = field(default_factory=list)

    def plan_changed_for(self, team_id: str | None) -> None:
        if team_id is not None and team_id not in self.plan_changed:
            self.plan_changed.append(team_id)


class BillingService:
    async def get_billing(self, session: AsyncSession, principal: Principal) -> Team:
        team, _ = await team_service.me(session, principal)
        return team

    async def handle_stripe_event(
        self, transaction: PreparedTransaction, settings: Settings, event: dict[str, Any]
    ) -> StripeOutcome:
        """Stores the event once by id and applies it in the caller's transaction: both commit or neither.

        An event for a customer that no team is bound to yet is stored and waits; the transaction that binds
        the customer to a team applies every event waiting for it, oldest first. A redelivery of an event that
        is still waiting tries it again; any other redelivery changes nothing.
        """
        row_id = await insert_event_once(transaction, WebhookSource.stripe, event["id"], event["type"], event)
        waiting = row_id is None
        if row_id is None:
            row_id = await self._still_waiting(BillingRepository(transaction), event["id"])
            if row_id is None:
                return StripeOutcome(WebhookOutcome.duplicate)
        delivery = _Delivery(transaction, settings)
        outcome = await self._process(delivery, row_id, event, waiting=waiting)
        return StripeOutcome(outcome, plan_changed_team_ids=tuple(delivery.plan_changed))

    async def waiting_customers_with_team(self, session: AsyncSession, limit: int) -> list[str]:
        transaction = await PreparedTransaction.of_session(session)
        return await BillingRepository(transaction).waiting_customers_with_team(limit)

    async def pro_team_subscriptions(
        self, session: AsyncSession, after_team_id: str, limit: int
    ) -> list[tuple[str, str]]:
        transaction = await PreparedTransaction.of_session(session)
        return await BillingRepository(transaction).pro_team_subscriptions(after_team_id, limit)

    async def apply_waiting_for_bound_customer(
        self, session: AsyncSession, settings: Settings, customer_id: str
    ) -> tuple[str, ...]:
        """Applies, oldest first, the events still waiting for a customer a team is bound to now, through the
        same binding step a webhook takes; returns the teams whose plan changed."""
        transaction = await PreparedTransaction.of_session(session)
        team = await BillingRepository(transaction).lock_team_by_customer(customer_id)
        if team is None:
            return ()
        delivery = _Delivery(transaction, settings)
        await self._bind_customer(delivery, team, customer_id)
        return tuple(delivery.plan_changed)

    async def drop_waiting_created_before(self, session: AsyncSession, created_before: int, limit: int) -> int:
        """Stops waiting for events older than the retention: their customer never became a team's. The events
        themselves stay stored (webhook_events), so a redelivery is still recognized."""
        repository = BillingRepository(await PreparedTransaction.of_session(session))
        waiting = await repository.pending_created_before(created_before, limit)
        for row_id, stripe_event_id, customer_id in waiting:
            await repository.remove_pending(row_id)
            logger.warning("stripe_waiting_event_dropped", event_id=stripe_event_id, customer_id=customer_id)
        return len(waiting)

    async def correct_subscription(
        self, session: AsyncSession, settings: Settings, subscription: dict[str, Any], observed_at: int
    ) -> tuple[str, ...]:
        """Applies a subscription as Stripe's API shows it at `observed_at` when it differs from ours (a missed
        webhook), as if an update event had been created then: the webhook's own path, and an event created
        later still wins. Returns the teams whose plan changed."""
        snapshot = _parse_subscription(subscription)
        if snapshot is None:
            logger.warning("stripe_subscription_unreadable", subscription_id=subscription.get("id"))
            return ()
        transaction = await PreparedTransaction.of_session(session)
        repository = BillingRepository(transaction)
        team_id = await repository.subscription_team_id(snapshot.subscription_id)
        stored = _find(await repository.team_subscriptions(team_id), snapshot.subscription_id) if team_id else None
        if stored is not None and _matches(stored, snapshot):
            return ()
        logger.warning(
            "stripe_subscription_drift",
            subscription_id=snapshot.subscription_id,
            stored_status=stored.status if stored is not None else None,
            status=snapshot.status,
        )
        event = {
            "id": f"reconciliation/{snapshot.subscription_id}/{observed_at}",
            "type": "customer.subscription.updated",
            "created": observed_at,
            "data": {"object": subscription},
        }
        delivery = _Delivery(transaction, settings)
        await self._subscription_changed(delivery, event, subscription)
        return tuple(delivery.plan_changed)

    async def _still_waiting(self, repository: BillingRepository, stripe_event_id: str) -> str | None:
        pending = await repository.pending_event(stripe_event_id)
        if pending is None:
            return None
        _, stripe_customer_id = pending
        # Read again under the customer's lock: a binding committed meanwhile has applied it.
        await repository.lock_customer(stripe_customer_id)
        pending = await repository.pending_event(stripe_event_id)
        if pending is None:
            return None
        webhook_event_id, _ = pending
        return webhook_event_id

    async def _process(
        self, delivery: _Delivery, row_id: str, event: dict[str, Any], *, waiting: bool
    ) -> WebhookOutcome:
        """Applies one stored event; `waiting` says it is already listed as waiting for its team."""
        applied = await self._apply(delivery, event)
        repository = BillingRepository(delivery.transaction)
        outcome = WebhookOutcome.ignored
        if applied.waiting_for_customer is not None:
            outcome = WebhookOutcome.deferred
            if not waiting:
                await repository.add_pending(row_id, applied.waiting_for_customer, event["created"])
        elif applied.processed:
            outcome = WebhookOutcome.processed
            await mark_event_processed(delivery.transaction, row_id)
            if waiting:
                await repository.remove_pending(row_id)
        return outcome

    async def _apply(self, delivery: _Delivery, event: dict[str, Any]) -> Applied:
        if event["type"] not in APPLIED_EVENTS:
            return Applied(processed=False)
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            logger.warning("stripe_event_without_object", event_id=event["id"], type=event["type"])
            return Applied(processed=False)
        if event["type"] == PAYMENT_FAILED:
            return await self._payment_failed(delivery, event, obj)
        if event["type"] in CUSTOMER_IDENTIFIED:
            return await self._customer_identified(delivery, event, obj)
        return await self._subscription_changed(delivery, event, obj)

    async def _subscription_changed(self, delivery: _Delivery, event: dict[str, Any], obj: dict[str, Any]) -> Applied:
        snapshot = _parse_subscription(obj)
        if snapshot is None:
            logger.warning("stripe_subscription_unreadable", event_id=event["id"])
            return Applied(processed=False)
        repository = BillingRepository(delivery.transaction)
        team = await self._find_team(repository, snapshot.subscription_id, snapshot.team_id_hint, snapshot.customer_id)
        if team is None:
            return _unknown_team(event, snapshot.customer_id)
        subscriptions = await repository.team_subscriptions(team.id)
        subscription = _find(subscriptions, snapshot.subscription_id)
        position = EventPosition(event["created"], snapshot.status, event["id"])
        if subscription is None:
            subscription = SubscriptionState(id=None, team_id=team.id, stripe_subscription_id=snapshot.subscription_id)
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
        await repository.save_subscription(subscription)
        await self._derive_team_billing(delivery, repository, team, subscriptions)
        # Last: the events this binding unblocks derive the team's billing again, from these rows.
        if snapshot.customer_id is not None and team.stripe_customer_id is None:
            await self._bind_customer(delivery, team, snapshot.customer_id)
        return Applied(processed=True)

    async def _payment_failed(self, delivery: _Delivery, event: dict[str, Any], invoice: dict[str, Any]) -> Applied:
        invoice_id = invoice.get("id")
        if not isinstance(invoice_id, str):
            return Applied(processed=False)
        subscription_id, metadata_team_id = _invoice_subscription(invoice)
        customer_id = _customer_id(invoice.get("customer"))
        repository = BillingRepository(delivery.transaction)
        team = await self._find_team(repository, subscription_id, metadata_team_id, customer_id)
        if team is None:
            return _unknown_team(event, customer_id)
        subscriptions = await repository.team_subscriptions(team.id)
        subscription = _find(subscriptions, subscription_id) if subscription_id else None
        if subscription is None:
            if team.billing_status != "past_due":
                team.billing_status = "past_due"
                await repository.save_derived(team)
        elif EventPosition(event["created"], "past_due", event["id"]).is_newer_than(subscription):
            subscription.status = "past_due"
            subscription.last_event_created = event["created"]
            subscription.last_event_id = event["id"]
            await repository.save_subscription(subscription)
            await self._derive_team_billing(delivery, repository, team, subscriptions)
        await self._email_owners_payment_failed(delivery, team, invoice, invoice_id)
        return Applied(processed=True)

    async def _customer_identified(self, delivery: _Delivery, event: dict[str, Any], obj: dict[str, Any]) -> Applied:
        """A finished Checkout (`client_reference_id`, else `metadata.team_id`) or a customer created or updated
        with `metadata.team_id` says which team a Stripe customer is."""
        if event["type"] == CHECKOUT_COMPLETED:
            customer_id = _customer_id(obj.get("customer"))
            team_ref = obj.get("client_reference_id") or _metadata_team_id(obj)
        else:
            customer_id = _customer_id(obj)
            team_ref = _metadata_team_id(obj)
        if customer_id is None or not isinstance(team_ref, str):
            return Applied(processed=False)
        team = await BillingRepository(delivery.transaction).lock_team(team_ref)
        if team is None:
            logger.warning("stripe_event_for_unknown_team", event_id=event["id"], type=event["type"])
            return Applied(processed=False)
        return Applied(processed=await self._bind_customer(delivery, team, customer_id))

    async def _bind_customer(self, delivery: _Delivery, team: TeamBilling, customer_id: str) -> bool:
        """Ties the customer to the team (a team keeps its first customer), then applies what waited for it."""
        if team.stripe_customer_id not in (None, customer_id):
            logger.warning("stripe_team_has_another_customer", team_id=team.id)
            return False
        repository = BillingRepository(delivery.transaction)
        await repository.lock_customer(customer_id)
        if team.stripe_customer_id is None:
            if await repository.customer_is_taken(customer_id):
                logger.warning("stripe_customer_belongs_to_another_team", team_id=team.id)
                return False
            team.stripe_customer_id = customer_id
            # The waiting events find their team through this column.
            await repository.save_customer(team)
        for row_id, event in await repository.pending_for_customer(customer_id):
            logger.info("stripe_waiting_event_applied", event_id=event.get("id"), team_id=team.id)
            await self._process(delivery, row_id, event, waiting=True)
        return True

    async def _derive_team_billing(
        self,
        delivery: _Delivery,
        repository: BillingRepository,
        team: TeamBilling,
        subscriptions: list[SubscriptionState],
    ) -> None:
        """Derives the team's billing from its subscriptions and writes it if it changed."""
        before, previous_plan = team.derived(), team.plan
        _mirror_primary_subscription(team, subscriptions, delivery.settings)
        if team.derived() != before:
            await repository.save_derived(team)
        if team.plan != previous_plan:
            delivery.plan_changed_for(team.id)

    async def _email_owners_payment_failed(
        self, delivery: _Delivery, team: TeamBilling, invoice: dict[str, Any], invoice_id: str
    ) -> None:
        attempt = invoice.get("attempt_count")
        attempt = attempt if isinstance(attempt, int) else 0
        subject, text = _payment_failed_message(team, invoice, attempt)
        for owner_id, owner_email in await BillingRepository(delivery.transaction).team_owners(team.id):
            # One email per owner per payment attempt, however often Stripe delivers the event.
            await email_service.queue_in(
                delivery.transaction,
                to=owner_email,
                subject=subject,
                text=text,
                kind="payment_failed",
                idempotency_key=f"stripe-payment-failed/{invoice_id}/{attempt}/{owner_id}",
                team_id=team.id,
            )

    async def _find_team(
        self,
        repository: BillingRepository,
        subscription_id: str | None,
        metadata_team_id: str | None,
        customer_id: str | None,
    ) -> TeamBilling | None:
        """A subscription we already know keeps its team; otherwise metadata.team_id, then the customer id."""
        known_team_id = await repository.subscription_team_id(subscription_id) if subscription_id else None
        for team_id in (known_team_id, metadata_team_id):
            if team_id is not None and (team := await repository.lock_team(team_id)) is not None:
                return team
        if customer_id is None:
            return None
        team = await repository.lock_team_by_customer(customer_id)
        if team is None:
            # Before the event is left waiting: a binding of this customer may be about to commit.
            await repository.lock_customer(customer_id)
            team = await repository.lock_team_by_customer(customer_id)
        return team


def _unknown_team(event: dict[str, Any], customer_id: str | None) -> Applied:
    logger.warning(
        "stripe_event_for_unknown_team", event_id=event["id"], type=event["type"], waits=customer_id is not None
    )
    return Applied(processed=False, waiting_for_customer=customer_id)


def _mirror_primary_subscription(team: TeamBilling, subscriptions: list[SubscriptionState], settings: Settings) -> None:
    """Mirrors the team's most relevant subscription onto the team."""
    pro_price_ids = set(settings.STRIPE_PRO_PRICE_IDS)

    def entitles_pro(subscription: SubscriptionState) -> bool:
        entitled = subscription.status in ENTITLED_STATUSES
        return entitled and not pro_price_ids.isdisjoint(subscription.price_ids)

    primary = max(
        subscriptions,
        key=lambda s: (entitles_pro(s), s.status not in TERMINAL_STATUSES, s.last_event_created, s.last_event_id),
    )
    team.plan = Plan.pro if entitles_pro(primary) else Plan.free
    team.billing_status = primary.status
    team.stripe_subscription_id = primary.stripe_subscription_id
    team.plan_period_end = primary.current_period_end
    team.cancel_at_period_end = primary.cancel_at_period_end


def _matches(stored: SubscriptionState, snapshot: SubscriptionSnapshot) -> bool:
    return (
        stored.status == snapshot.status
        and sorted(stored.price_ids) == sorted(snapshot.price_ids)
        and stored.current_period_end == snapshot.current_period_end
        and stored.cancel_at_period_end == snapshot.cancel_at_period_end
    )


def _find(subscriptions: list[SubscriptionState], subscription_id: str | None) -> SubscriptionState | None:
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
    return SubscriptionSnapshot(
        subscription_id=subscription_id,
        customer_id=_customer_id(obj.get("customer")),
        status=status,
        price_ids=price_ids,
        current_period_end=datetime.fromtimestamp(max(period_ends), UTC) if period_ends else None,
        cancel_at_period_end=obj.get("cancel_at_period_end") is True,
        team_id_hint=_metadata_team_id(obj),
    )


def _invoice_subscription(invoice: dict[str, Any]) -> tuple[str | None, str | None]:
    """(subscription id, metadata.team_id): basil moved both under parent.subscription_details."""
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    details = details if isinstance(details, dict) else {}
    subscription = details.get("subscription", invoice.get("subscription"))
    if isinstance(subscription, dict):
        subscription = subscription.get("id")
    return subscription if isinstance(subscription, str) else None, _metadata_team_id(details)


def _metadata_team_id(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    team_id = metadata.get("team_id") if isinstance(metadata, dict) else None
    return team_id if isinstance(team_id, str) else None


def _customer_id(customer: object) -> str | None:
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) else None


def _payment_failed_message(team: TeamBilling, invoice: dict[str, Any], attempt: int) -> tuple[str, str]:
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
