"""Stripe reconciliation: waiting events applied or dropped, and subscription drift corrected from Stripe's API
(a local server speaking Stripe's shapes) through the webhook's own code path."""

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from platform_server.billing.models import StripePendingEvent, StripeSubscription
from platform_server.billing.tasks import check_subscriptions, reconcile_waiting_events
from platform_server.jobs.registry import JobContext
from platform_server.limits.plans import PlanDirectory
from platform_server.models import Team
from tests.billing.conftest import PRO_PRICE, STRIPE_SECRET, T0, post_stripe, subscription_event
from tests.billing.test_stripe_webhook import billing_state, stored_events, team_row
from tests.conftest import Member, make_settings
from tests.jobs_paths.fake_stripe import API_KEY, FakeStripe, fake_stripe
from tests.limits.conftest import key_prefix

MakeContext = Callable[..., JobContext]
__all__ = ["key_prefix"]
DAY = 86400


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"STRIPE_WEBHOOK_SECRET": STRIPE_SECRET, "STRIPE_PRO_PRICE_IDS": PRO_PRICE}


async def waiting(app: Any) -> list[StripePendingEvent]:
    async with app.state.sessionmaker() as session:
        return list(await session.scalars(select(StripePendingEvent).order_by(StripePendingEvent.event_created)))


async def bind_by_hand(app: Any, team_id: str, customer: str) -> None:
    """A binding the webhook path never saw (an operator's UPDATE, a restored backup)."""
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(update(Team).where(Team.id == team_id).values(stripe_customer_id=customer))


class TestWaitingEvents:
    async def test_events_for_a_customer_bound_since_are_applied_once(
        self, app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
    ) -> None:
        created = int(time.time()) - DAY
        early = subscription_event(customer="cus_late", status="trialing", created=created)
        later = subscription_event(customer="cus_late", status="active", created=created + 60)
        for event in (later, early):
            assert (await post_stripe(client, event)).status_code == 200
        assert len(await waiting(app)) == 2
        await bind_by_hand(app, owner.team_id, "cus_late")

        await reconcile_waiting_events(job_context())

        team = await team_row(app, owner.team_id)
        assert (team.plan, team.billing_status, team.stripe_subscription_id) == ("pro", "active", "sub_1")
        assert await waiting(app) == []
        assert all(event.processed_at is not None for event in await stored_events(app))
        # Run again: nothing left to apply, nothing changes.
        await reconcile_waiting_events(job_context())
        assert billing_state(await team_row(app, owner.team_id)) == billing_state(team)

    async def test_events_waiting_past_the_retention_are_dropped_and_others_kept(
        self, app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
    ) -> None:
        now = int(time.time())
        stale = subscription_event(customer="cus_gone", subscription="sub_gone", created=now - 31 * DAY)
        recent = subscription_event(customer="cus_soon", subscription="sub_soon", created=now - 29 * DAY)
        for event in (stale, recent):
            await post_stripe(client, event)

        await reconcile_waiting_events(job_context())

        [kept] = await waiting(app)
        assert kept.stripe_customer_id == "cus_soon"
        # The event stays stored: a redelivery is still recognized and not applied twice.
        assert {event.external_id for event in await stored_events(app)} == {stale["id"], recent["id"]}
        await reconcile_waiting_events(job_context())
        assert [row.stripe_customer_id for row in await waiting(app)] == ["cus_soon"]
        assert (await team_row(app, owner.team_id)).plan == "free"

    async def test_dropping_is_bounded_per_run(
        self, app: Any, client: httpx.AsyncClient, database: Any, job_context: MakeContext
    ) -> None:
        app.state.settings = make_settings(
            database.url, CLEANUP_BATCH_SIZE=2, CLEANUP_MAX_BATCHES_PER_RUN=2, STRIPE_WEBHOOK_SECRET=STRIPE_SECRET
        )
        old = int(time.time()) - 40 * DAY
        for index in range(5):
            await post_stripe(client, subscription_event(customer=f"cus_{index}", created=old + index))
        await reconcile_waiting_events(job_context())
        assert [row.stripe_customer_id for row in await waiting(app)] == ["cus_4"]
        await reconcile_waiting_events(job_context())
        assert await waiting(app) == []


@pytest.fixture
async def stripe_api(app: Any) -> AsyncIterator[FakeStripe]:
    async with fake_stripe() as server:
        app.state.settings = app.state.settings.model_copy(
            update={"STRIPE_API_KEY": SecretStr(API_KEY), "STRIPE_API_BASE_URL": server.base_url}
        )
        yield server


def api_subscription(**fields: Any) -> dict[str, Any]:
    """The subscription as `GET /v1/subscriptions/{id}` answers it (the object a webhook event carries)."""
    subscription: dict[str, Any] = subscription_event(**fields)["data"]["object"]
    return subscription


async def subscription_row(app: Any, subscription_id: str) -> StripeSubscription:
    async with app.state.sessionmaker() as session:
        row = await session.scalar(
            select(StripeSubscription).where(StripeSubscription.stripe_subscription_id == subscription_id)
        )
    assert row is not None
    return row


class TestSubscriptionCheck:
    async def test_a_missed_cancellation_downgrades_the_team(
        self, app: Any, client: httpx.AsyncClient, owner: Member, stripe_api: FakeStripe, job_context: MakeContext
    ) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0))
        assert (await team_row(app, owner.team_id)).plan == "pro"
        stripe_api.subscriptions["sub_1"] = api_subscription(team_id=owner.team_id, status="canceled")

        await check_subscriptions(job_context())

        assert stripe_api.requests == ["sub_1"]
        team = await team_row(app, owner.team_id)
        assert (team.plan, team.billing_status) == ("free", "canceled")
        assert (await subscription_row(app, "sub_1")).status == "canceled"
        # The team is no longer Pro: the next check does not ask about it.
        await check_subscriptions(job_context())
        assert stripe_api.requests == ["sub_1"]

    async def test_a_missed_change_of_period_and_cancellation_flag_is_corrected(
        self, app: Any, client: httpx.AsyncClient, owner: Member, stripe_api: FakeStripe, job_context: MakeContext
    ) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0))
        stripe_api.subscriptions["sub_1"] = api_subscription(
            team_id=owner.team_id, period_end=1_900_000_000, cancel_at_period_end=True
        )
        await check_subscriptions(job_context())
        team = await team_row(app, owner.team_id)
        assert team.plan == "pro"
        assert team.cancel_at_period_end is True
        assert team.plan_period_end is not None
        assert int(team.plan_period_end.timestamp()) == 1_900_000_000

    async def test_an_unchanged_subscription_is_not_written(
        self, app: Any, client: httpx.AsyncClient, owner: Member, stripe_api: FakeStripe, job_context: MakeContext
    ) -> None:
        event = subscription_event(team_id=owner.team_id, created=T0)
        await post_stripe(client, event)
        stripe_api.subscriptions["sub_1"] = api_subscription(team_id=owner.team_id)
        before = await subscription_row(app, "sub_1")

        await check_subscriptions(job_context())

        after = await subscription_row(app, "sub_1")
        assert stripe_api.requests == ["sub_1"]
        assert (after.last_event_id, after.last_event_created, after.updated_at) == (
            event["id"],
            T0,
            before.updated_at,
        )

    async def test_a_webhook_created_after_the_check_still_wins(
        self, app: Any, client: httpx.AsyncClient, owner: Member, stripe_api: FakeStripe, job_context: MakeContext
    ) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0))
        stripe_api.subscriptions["sub_1"] = api_subscription(team_id=owner.team_id, status="past_due")
        await check_subscriptions(job_context())
        assert (await team_row(app, owner.team_id)).billing_status == "past_due"

        recovered = subscription_event(team_id=owner.team_id, status="active", created=int(time.time()) + 60)
        await post_stripe(client, recovered)
        assert (await team_row(app, owner.team_id)).billing_status == "active"

    async def test_a_subscription_stripe_does_not_know_is_left_and_the_others_checked(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        other_team: Member,
        stripe_api: FakeStripe,
        job_context: MakeContext,
    ) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, customer="cus_a", subscription="sub_a"))
        await post_stripe(
            client, subscription_event(team_id=other_team.team_id, customer="cus_b", subscription="sub_b")
        )
        stripe_api.subscriptions["sub_b"] = api_subscription(
            team_id=other_team.team_id, customer="cus_b", subscription="sub_b", status="unpaid"
        )

        await check_subscriptions(job_context())

        assert sorted(stripe_api.requests) == ["sub_a", "sub_b"]
        assert (await team_row(app, owner.team_id)).plan == "pro"
        assert (await team_row(app, other_team.team_id)).billing_status == "unpaid"


class TestPlanChangeAnnounced:
    @pytest.fixture
    def settings_overrides(self, redis_url: str, key_prefix: str) -> dict[str, Any]:
        return {
            "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
            "STRIPE_PRO_PRICE_IDS": PRO_PRICE,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": key_prefix,
        }

    async def test_a_corrected_plan_reaches_every_process_through_redis(
        self, app: Any, client: httpx.AsyncClient, owner: Member, stripe_api: FakeStripe, job_context: MakeContext
    ) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0))
        plans = PlanDirectory(app.state.sessionmaker, app.state.redis, app.state.settings)
        assert await app.state.redis.get(plans.key(owner.team_id)) in (None, b"pro")
        stripe_api.subscriptions["sub_1"] = api_subscription(team_id=owner.team_id, status="canceled")

        await check_subscriptions(job_context())

        assert await app.state.redis.get(plans.key(owner.team_id)) == b"free"


async def test_without_an_api_key_stripe_is_not_asked(
    app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
) -> None:
    async with fake_stripe() as server:
        # The base URL points at the server, only the key is missing.
        app.state.settings = make_settings(
            app.state.settings.DATABASE_URL,
            STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
            STRIPE_PRO_PRICE_IDS=PRO_PRICE,
            STRIPE_API_BASE_URL=server.base_url,
        )
        await post_stripe(client, subscription_event(team_id=owner.team_id))
        await check_subscriptions(job_context())
        assert server.requests == []
    assert (await team_row(app, owner.team_id)).plan == "pro"
