"""Stripe events for a customer no team is bound to yet: stored, acknowledged, and applied once the team is known."""

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from platform_server import migrate
from platform_server.app import create_app
from platform_server.billing.models import StripePendingEvent
from platform_server.ids import new_id
from platform_server.models import Team
from platform_server.sandbox.resend import ResendSandboxStore
from platform_server.webhook_events.models import WebhookEvent
from tests.billing.conftest import T0, event_id, payment_failed_event, post_stripe, subscription_event
from tests.billing.test_stripe_webhook import billing_state, stored_events, team_row
from tests.conftest import Member, _create_postgres_database, make_settings, require_service, row_count
from tests.jobs_paths.helpers import run_due_jobs

MakeTeam = Callable[..., Coroutine[Any, Any, Member]]
CUSTOMER = "cus_new"


def checkout_completed(team_id: str, *, customer: str = CUSTOMER, created: int = T0 + 5) -> dict[str, Any]:
    return {
        "id": event_id(),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": f"cs_test_{event_id()}",
                "object": "checkout.session",
                "mode": "subscription",
                "status": "complete",
                "client_reference_id": team_id,
                "customer": customer,
                "subscription": "sub_1",
                "metadata": {},
            }
        },
    }


def customer_event(event_type: str, team_id: str, *, customer: str = CUSTOMER) -> dict[str, Any]:
    return {
        "id": event_id(),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": T0 + 5,
        "type": event_type,
        "data": {"object": {"id": customer, "object": "customer", "metadata": {"team_id": team_id}}},
    }


async def waiting(app: Any) -> list[StripePendingEvent]:
    async with app.state.sessionmaker() as session:
        return list(await session.scalars(select(StripePendingEvent)))


async def processed(app: Any, stripe_event_id: str) -> bool:
    [event] = [event for event in await stored_events(app) if event.external_id == stripe_event_id]
    return event.processed_at is not None


class TestWaitingForTheTeam:
    async def test_an_event_for_an_unknown_customer_waits_then_applies_when_checkout_names_the_team(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        early = subscription_event("customer.subscription.created", customer=CUSTOMER, created=T0)
        assert (await post_stripe(client, early)).status_code == 200
        assert (await team_row(app, owner.team_id)).plan == "free"
        [pending] = await waiting(app)
        assert pending.stripe_customer_id == CUSTOMER
        assert not await processed(app, early["id"])

        assert (await post_stripe(client, checkout_completed(owner.team_id))).status_code == 200

        team = await team_row(app, owner.team_id)
        assert (team.plan, team.billing_status, team.stripe_subscription_id) == ("pro", "active", "sub_1")
        assert team.stripe_customer_id == CUSTOMER
        assert await processed(app, early["id"])
        assert await waiting(app) == []

    @pytest.mark.parametrize("binding", ["customer.created", "customer.updated", "subscription_with_metadata"])
    async def test_other_events_that_name_the_team_apply_what_waited(
        self, app: Any, client: httpx.AsyncClient, owner: Member, binding: str
    ) -> None:
        early = subscription_event(customer=CUSTOMER, subscription="sub_early", created=T0)
        await post_stripe(client, early)
        if binding == "subscription_with_metadata":
            event = subscription_event(
                team_id=owner.team_id, customer=CUSTOMER, subscription="sub_other", status="canceled", created=T0 + 1
            )
        else:
            event = customer_event(binding, owner.team_id)
        assert (await post_stripe(client, event)).status_code == 200
        team = await team_row(app, owner.team_id)
        assert (team.plan, team.stripe_subscription_id, team.stripe_customer_id) == ("pro", "sub_early", CUSTOMER)
        assert await waiting(app) == []

    async def test_waiting_events_apply_oldest_first_and_never_over_newer_state(
        self, app: Any, client: httpx.AsyncClient, make_team: MakeTeam
    ) -> None:
        def lifecycle(**common: Any) -> list[dict[str, Any]]:
            return [
                subscription_event("customer.subscription.created", created=T0, status="incomplete", **common),
                subscription_event(created=T0 + 10, status="active", **common),
                subscription_event(created=T0 + 20, status="past_due", cancel_at_period_end=True, **common),
            ]

        # Reference: the same events, delivered in order to a team that is known from the start.
        known = await make_team("Known")
        for event in lifecycle(team_id=known.team_id, customer="cus_known", subscription="sub_known"):
            await post_stripe(client, event)
        expected = billing_state(await team_row(app, known.team_id))
        assert expected[:2] == ("free", "past_due")

        late = await make_team("Late")
        events = lifecycle(customer=CUSTOMER, subscription="sub_late")
        for event in (events[2], events[0], events[1]):
            await post_stripe(client, event)
        assert len(await waiting(app)) == 3
        await post_stripe(client, checkout_completed(late.team_id))
        state = billing_state(await team_row(app, late.team_id))
        assert state[:2] + state[3:] == expected[:2] + expected[3:]

        # A binding event newer than everything that waited keeps its own state.
        newest = await make_team("Newest")
        events = lifecycle(customer="cus_newest", subscription="sub_newest")
        for event in events:
            await post_stripe(client, event)
        binding = subscription_event(
            team_id=newest.team_id, customer="cus_newest", subscription="sub_newest", created=T0 + 30
        )
        await post_stripe(client, binding)
        team = await team_row(app, newest.team_id)
        assert (team.plan, team.billing_status, team.cancel_at_period_end) == ("pro", "active", False)
        assert all([await processed(app, event["id"]) for event in events])

    async def test_a_waiting_payment_failure_emails_the_owners_once_the_team_is_known(
        self, app: Any, client: httpx.AsyncClient, owner: Member, resend_sandbox: ResendSandboxStore
    ) -> None:
        await post_stripe(client, subscription_event(customer=CUSTOMER, created=T0))
        await post_stripe(client, payment_failed_event(customer=CUSTOMER, created=T0 + 10))
        assert resend_sandbox.emails == []
        checkout = checkout_completed(owner.team_id)
        for _ in range(2):
            assert (await post_stripe(client, checkout)).status_code == 200
        team = await team_row(app, owner.team_id)
        assert (team.plan, team.billing_status) == ("free", "past_due")
        await run_due_jobs(app)
        assert len(resend_sandbox.emails) == 1

    async def test_a_binding_for_an_unknown_team_binds_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await post_stripe(client, subscription_event(customer=CUSTOMER))
        checkout = checkout_completed("9999999999999999999")
        assert (await post_stripe(client, checkout)).status_code == 200
        assert not await processed(app, checkout["id"])
        assert len(await waiting(app)) == 1

    async def test_a_team_keeps_its_first_customer(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, customer="cus_first", created=T0))
        await post_stripe(client, subscription_event(customer=CUSTOMER, subscription="sub_2", created=T0 + 1))
        await post_stripe(client, checkout_completed(owner.team_id))
        team = await team_row(app, owner.team_id)
        assert team.stripe_customer_id == "cus_first"
        assert len(await waiting(app)) == 1


class TestRedelivery:
    async def test_a_waiting_event_is_tried_again_on_redelivery_and_applied_once(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        event = subscription_event(customer=CUSTOMER)
        await post_stripe(client, event)
        assert (await post_stripe(client, event)).status_code == 200
        assert len(await waiting(app)) == 1
        # The customer becomes known without an event (set by hand, or by a future API call).
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(Team).where(Team.id == owner.team_id).values(stripe_customer_id=CUSTOMER))

        assert (await post_stripe(client, event)).status_code == 200
        assert (await team_row(app, owner.team_id)).plan == "pro"
        assert await waiting(app) == []
        [stored] = await stored_events(app)
        first_processing = stored.processed_at
        assert first_processing is not None
        assert (await post_stripe(client, event)).status_code == 200
        [stored] = await stored_events(app)
        assert stored.processed_at == first_processing
        assert await row_count(app, WebhookEvent) == 1

    async def test_concurrent_events_and_bindings_leave_nothing_waiting(
        self, app: Any, client: httpx.AsyncClient, make_team: MakeTeam
    ) -> None:
        deliveries = []
        teams = [await make_team(f"Race {n}") for n in range(4)]
        for n, member in enumerate(teams):
            customer = f"cus_race_{n}"
            deliveries += [
                subscription_event(customer=customer, subscription=f"sub_race_{n}"),
                checkout_completed(member.team_id, customer=customer),
            ]
        responses = await asyncio.gather(*(post_stripe(client, event) for event in deliveries))
        assert [response.status_code for response in responses] == [200] * len(deliveries)
        assert await waiting(app) == []
        assert [(await team_row(app, member.team_id)).plan for member in teams] == ["pro"] * len(teams)


@pytest.fixture(params=["sqlite", "postgres"])
async def database_before_pending_events(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/upgrade.db"
        await asyncio.to_thread(migrate.upgrade, url, "0010_oauth_state_binding")
        yield url
        return
    url, drop = await _create_postgres_database(require_service("TEST_POSTGRES_URL", "PostgreSQL"))
    try:
        await asyncio.to_thread(migrate.upgrade, url, "0010_oauth_state_binding")
        yield url
    finally:
        await drop()


async def test_events_stored_unapplied_before_the_upgrade_wait_for_their_team(
    database_before_pending_events: str, settings_overrides: dict[str, Any]
) -> None:
    team_id, event = new_id(), subscription_event(customer=CUSTOMER)
    engine = create_async_engine(database_before_pending_events)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO teams (id, name, plan, cancel_at_period_end, created_at, updated_at) "
                "VALUES (:id, 'Old', 'free', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": team_id},
        )
        await connection.execute(
            text(
                "INSERT INTO webhook_events (id, source, external_id, type, payload, received_at) "
                "VALUES (:id, 'stripe', :external_id, :type, :payload, CURRENT_TIMESTAMP)"
            ),
            {
                "id": new_id(),
                "external_id": event["id"],
                "type": event["type"],
                "payload": orjson.dumps(event).decode(),
            },
        )
    await engine.dispose()
    await asyncio.to_thread(migrate.upgrade, database_before_pending_events)

    app = create_app(make_settings(database_before_pending_events, **settings_overrides))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        assert len(await waiting(app)) == 1
        assert (await post_stripe(client, checkout_completed(team_id))).status_code == 200
        assert (await team_row(app, team_id)).plan == "pro"
        assert await waiting(app) == []
