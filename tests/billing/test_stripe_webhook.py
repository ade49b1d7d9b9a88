import asyncio
import hashlib
import hmac
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from platform_server.billing.models import StripeSubscription
from platform_server.email.models import Email, EmailStatus, EmailSuppression
from platform_server.email.service import SEND_EMAIL_TASK
from platform_server.models import Team, User
from platform_server.sandbox.resend import ResendSandboxStore
from platform_server.teams.models import Role
from platform_server.webhook_events.models import WebhookEvent
from tests.billing.conftest import (
    OTHER_PRICE,
    PERIOD_END,
    STRIPE_OLD_SECRET,
    STRIPE_SECRET,
    T0,
    now,
    payment_failed_event,
    post_stripe,
    sign,
    subscription_event,
)
from tests.conftest import Member, row_count
from tests.jobs_paths.helpers import jobs_of, run_due_jobs

MakeTeam = Callable[..., Coroutine[Any, Any, Member]]


async def team_row(app: Any, team_id: str) -> Team:
    async with app.state.sessionmaker() as session:
        team = await session.get(Team, team_id)
        assert team is not None
        return team


def billing_state(team: Team) -> tuple[Any, ...]:
    return (
        team.plan,
        team.billing_status,
        team.stripe_subscription_id,
        team.plan_period_end,
        team.cancel_at_period_end,
    )


async def stored_events(app: Any) -> list[WebhookEvent]:
    async with app.state.sessionmaker() as session:
        return list(await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


class TestSignature:
    async def test_signed_event_is_acknowledged(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        response = await post_stripe(client, subscription_event(team_id=owner.team_id))
        assert response.status_code == 200
        assert response.json() == {"received": True}
        assert (await team_row(app, owner.team_id)).plan == "pro"

    @pytest.mark.parametrize(
        "case", ["missing", "empty", "malformed", "no_v1", "wrong_secret", "too_old", "tampered_body"]
    )
    async def test_bad_signature_is_refused_and_changes_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, case: str
    ) -> None:
        event = subscription_event(team_id=owner.team_id)
        payload = orjson.dumps(event)
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(payload)}
        if case == "missing":
            del headers["Stripe-Signature"]
        elif case == "empty":
            headers["Stripe-Signature"] = ""
        elif case == "malformed":
            headers["Stripe-Signature"] = "this is not a stripe signature"
        elif case == "no_v1":
            headers["Stripe-Signature"] = sign(payload).replace("v1=", "v0=")
        elif case == "wrong_secret":
            headers["Stripe-Signature"] = sign(payload, secret="whsec_somebody_else")
        elif case == "too_old":
            headers["Stripe-Signature"] = sign(payload, timestamp=now() - 301)
        elif case == "tampered_body":
            payload = payload.replace(b'"active"', b'"trialing"')
        response = await client.post("/api/webhooks/stripe", content=payload, headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["error"]["code"] == "UNAUTHORIZED"
        assert set(body["error"]) == {"code", "message", "details"}
        if case == "too_old":
            assert "tolerance" in body["error"]["details"]["reason"]
        assert await row_count(app, WebhookEvent) == 0
        assert (await team_row(app, owner.team_id)).plan == "free"

    async def test_second_secret_verifies_during_rotation(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        response = await post_stripe(client, subscription_event(team_id=owner.team_id), secret=STRIPE_OLD_SECRET)
        assert response.status_code == 200
        assert (await team_row(app, owner.team_id)).plan == "pro"

    async def test_header_with_one_signature_per_secret_verifies(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        payload = orjson.dumps(subscription_event(team_id=owner.team_id))
        timestamp = now()
        # Stripe's own format while a secret is being rolled: one v1 entry per active secret.
        signatures = [
            hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
            for secret in ("whsec_retired_elsewhere", STRIPE_SECRET)
        ]
        header = f"t={timestamp},v1={signatures[0]},v1={signatures[1]}"
        assert (await post_stripe(client, payload, header=header)).status_code == 200

    async def test_signed_body_that_is_not_json_is_refused(self, app: Any, client: httpx.AsyncClient) -> None:
        response = await post_stripe(client, b"{not json")
        assert response.status_code == 400
        assert await row_count(app, WebhookEvent) == 0

    @pytest.mark.parametrize(
        "body",
        [
            b"[]",
            b'{"id": "evt_1", "object": "v2.core.event", "type": "x", "created": 1}',
            b'{"id": "evt_1", "object": "event", "created": 1}',
            b'{"id": 5, "object": "event", "type": "x", "created": 1}',
            b'{"id": "evt_1", "object": "event", "type": "x", "created": "yesterday"}',
        ],
    )
    async def test_signed_json_that_is_not_an_event_is_refused(
        self, app: Any, client: httpx.AsyncClient, body: bytes
    ) -> None:
        response = await post_stripe(client, body)
        assert response.status_code == 400
        assert await row_count(app, WebhookEvent) == 0


class TestDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}

    async def test_without_a_secret_the_endpoint_is_not_found(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        response = await post_stripe(client, subscription_event(team_id=owner.team_id))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
        assert await row_count(app, WebhookEvent) == 0
        assert (await team_row(app, owner.team_id)).plan == "free"


class TestSubscriptionEvents:
    async def test_created_sets_plan_status_period_and_customer(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        event = subscription_event("customer.subscription.created", team_id=owner.team_id, status="trialing")
        assert (await post_stripe(client, event)).status_code == 200
        team = await team_row(app, owner.team_id)
        assert billing_state(team) == ("pro", "trialing", "sub_1", datetime.fromtimestamp(PERIOD_END, UTC), False)
        assert team.stripe_customer_id == "cus_1"
        [stored] = await stored_events(app)
        assert (stored.source, stored.external_id, stored.type) == ("stripe", event["id"], event["type"])
        assert stored.payload == event
        assert stored.processed_at is not None

    async def test_each_event_three_times_changes_state_once(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        events = [
            subscription_event("customer.subscription.created", team_id=owner.team_id, created=T0),
            subscription_event(team_id=owner.team_id, created=T0 + 10, cancel_at_period_end=True),
        ]
        for event in events:
            for _ in range(3):
                response = await post_stripe(client, event)
                assert response.status_code == 200
                assert response.json() == {"received": True}
        first_processing = [event.processed_at for event in await stored_events(app)]
        for event in events:
            await post_stripe(client, event)
        assert [event.processed_at for event in await stored_events(app)] == first_processing
        assert await row_count(app, WebhookEvent) == 2
        assert await row_count(app, StripeSubscription) == 1
        assert (await team_row(app, owner.team_id)).cancel_at_period_end is True

    async def test_deleted_returns_the_team_to_free(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0))
        deleted = subscription_event(
            "customer.subscription.deleted", team_id=owner.team_id, created=T0 + 5, status="canceled"
        )
        await post_stripe(client, deleted)
        team = await team_row(app, owner.team_id)
        assert (team.plan, team.billing_status) == ("free", "canceled")

    async def test_active_on_another_price_is_free(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, price=OTHER_PRICE))
        team = await team_row(app, owner.team_id)
        assert (team.plan, team.billing_status) == ("free", "active")

    @pytest.mark.parametrize("status", ["past_due", "unpaid", "incomplete", "paused"])
    async def test_pro_only_while_active_or_trialing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, status: str
    ) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, status=status))
        assert (await team_row(app, owner.team_id)).plan == "free"

    async def test_team_found_by_stored_customer_id(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, subscription="sub_1", created=T0))
        # A second subscription of the same customer, without team metadata.
        await post_stripe(client, subscription_event(subscription="sub_2", created=T0 + 1, cancel_at_period_end=True))
        assert await row_count(app, StripeSubscription) == 2

    async def test_period_end_read_from_pre_basil_payloads(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        event = subscription_event(team_id=owner.team_id)
        subscription = event["data"]["object"]
        for item in subscription["items"]["data"]:
            del item["current_period_end"]
        subscription["current_period_end"] = PERIOD_END + 60
        await post_stripe(client, event)
        assert (await team_row(app, owner.team_id)).plan_period_end == datetime.fromtimestamp(PERIOD_END + 60, UTC)

    async def test_unknown_team_is_stored_and_acknowledged(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        event = subscription_event(team_id="9999999999999999999", customer="cus_unknown")
        assert (await post_stripe(client, event)).status_code == 200
        [stored] = await stored_events(app)
        assert stored.processed_at is None
        assert (await team_row(app, owner.team_id)).plan == "free"

    async def test_another_teams_metadata_cannot_steal_a_known_subscription(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0))
        await post_stripe(client, subscription_event(team_id=other_team.team_id, created=T0 + 1, status="canceled"))
        assert (await team_row(app, other_team.team_id)).plan == "free"
        assert (await team_row(app, other_team.team_id)).billing_status is None
        assert (await team_row(app, owner.team_id)).billing_status == "canceled"

    @pytest.mark.parametrize("event_type", ["invoice.paid", "customer.created", "charge.succeeded"])
    async def test_other_event_types_are_stored_and_acknowledged(
        self, app: Any, client: httpx.AsyncClient, owner: Member, event_type: str
    ) -> None:
        event = {"id": "evt_other", "object": "event", "type": event_type, "created": T0, "data": {"object": {}}}
        for _ in range(3):
            assert (await post_stripe(client, event)).status_code == 200
        [stored] = await stored_events(app)
        assert stored.type == event_type
        assert (await team_row(app, owner.team_id)).billing_status is None


class TestOrdering:
    async def test_older_event_never_overwrites_newer_state(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        deleted = subscription_event(
            "customer.subscription.deleted", team_id=owner.team_id, created=T0 + 20, status="canceled"
        )
        await post_stripe(client, deleted)
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0 + 10))
        await post_stripe(client, subscription_event("customer.subscription.created", team_id=owner.team_id))
        team = await team_row(app, owner.team_id)
        assert (team.plan, team.billing_status) == ("free", "canceled")
        assert await row_count(app, WebhookEvent) == 3

    async def test_same_second_ties_go_to_the_later_lifecycle_stage(
        self, app: Any, client: httpx.AsyncClient, make_team: MakeTeam
    ) -> None:
        for order in ((0, 1), (1, 0)):
            member = await make_team()
            events = [
                subscription_event(
                    "customer.subscription.created",
                    team_id=member.team_id,
                    subscription=f"sub_{member.team_id}",
                    status="incomplete",
                ),
                subscription_event(team_id=member.team_id, subscription=f"sub_{member.team_id}", status="active"),
            ]
            for index in order:
                await post_stripe(client, events[index])
            assert (await team_row(app, member.team_id)).billing_status == "active"

    async def test_canceled_is_final(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0, status="canceled"))
        # Stripe never revives a canceled subscription; a later-stamped active copy is a stale render.
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0 + 1))
        assert (await team_row(app, owner.team_id)).plan == "free"

    async def test_shuffled_sequences_end_like_the_ordered_one(
        self, app: Any, client: httpx.AsyncClient, make_team: MakeTeam
    ) -> None:
        def sequence(team_id: str) -> list[dict[str, Any]]:
            common = {"team_id": team_id, "subscription": f"sub_{team_id}", "customer": f"cus_{team_id}"}
            return [
                subscription_event("customer.subscription.created", created=T0, status="incomplete", **common),
                subscription_event(created=T0 + 1, status="active", **common),
                subscription_event(created=T0 + 40, status="past_due", period_end=PERIOD_END + 1, **common),
                subscription_event(created=T0 + 50, status="active", period_end=PERIOD_END + 2, **common),
                subscription_event(created=T0 + 60, cancel_at_period_end=True, period_end=PERIOD_END + 2, **common),
                subscription_event(created=T0 + 70, cancel_at_period_end=False, period_end=PERIOD_END + 3, **common),
            ]

        reference = await make_team("Ordered")
        for event in sequence(reference.team_id):
            await post_stripe(client, event)
        expected = billing_state(await team_row(app, reference.team_id))
        assert expected[:2] == ("pro", "active")

        for seed in range(5):
            member = await make_team(f"Shuffled {seed}")
            events = sequence(member.team_id)
            deliveries = events + random.Random(seed).sample(events, 3)
            random.Random(seed).shuffle(deliveries)
            for event in deliveries:
                assert (await post_stripe(client, event)).status_code == 200
            state = billing_state(await team_row(app, member.team_id))
            assert state[:2] + state[3:] == expected[:2] + expected[3:]

    async def test_an_old_canceled_subscription_does_not_downgrade_a_new_one(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await post_stripe(client, subscription_event(team_id=owner.team_id, subscription="sub_new", created=T0 + 100))
        old = subscription_event(
            "customer.subscription.deleted",
            team_id=owner.team_id,
            subscription="sub_old",
            created=T0 + 200,
            status="canceled",
        )
        await post_stripe(client, old)
        team = await team_row(app, owner.team_id)
        assert (team.plan, team.billing_status, team.stripe_subscription_id) == ("pro", "active", "sub_new")

    async def test_concurrent_duplicates_apply_once(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        event = subscription_event(team_id=owner.team_id)
        responses = await asyncio.gather(*(post_stripe(client, event) for _ in range(4)))
        assert [r.status_code for r in responses] == [200] * 4
        assert await row_count(app, WebhookEvent) == 1
        assert await row_count(app, StripeSubscription) == 1
        assert (await team_row(app, owner.team_id)).plan == "pro"

    async def test_concurrent_distinct_events_for_one_team_keep_the_newest(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        events = [
            subscription_event(team_id=owner.team_id, created=T0 + i, cancel_at_period_end=i == 5) for i in range(6)
        ]
        responses = await asyncio.gather(*(post_stripe(client, event) for event in events))
        assert [r.status_code for r in responses] == [200] * 6
        assert await row_count(app, StripeSubscription) == 1
        assert (await team_row(app, owner.team_id)).cancel_at_period_end is True


class TestPaymentFailed:
    async def subscribe(self, client: httpx.AsyncClient, member: Member) -> None:
        await post_stripe(client, subscription_event(team_id=member.team_id, created=T0))

    async def test_marks_past_due_and_emails_each_owner_once(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        add_member: Callable[..., Coroutine[Any, Any, Member]],
        resend_sandbox: ResendSandboxStore,
    ) -> None:
        await self.subscribe(client, owner)
        await add_member(owner, Role.owner)
        await add_member(owner, Role.member)
        event = payment_failed_event(created=T0 + 10)
        for _ in range(3):
            assert (await post_stripe(client, event)).status_code == 200
        team = await team_row(app, owner.team_id)
        assert (team.billing_status, team.plan) == ("past_due", "free")
        await run_due_jobs(app)
        assert len(resend_sandbox.emails) == 2
        assert all(sent.to[0].startswith("owner") for sent in resend_sandbox.emails)
        assert all(sent.subject == "Payment failed for Acme" for sent in resend_sandbox.emails)
        assert all("https://invoice.stripe.com/i/in_1" in (sent.text or "") for sent in resend_sandbox.emails)
        assert await row_count(app, Email) == 2

    async def test_each_attempt_emails_again(
        self, app: Any, client: httpx.AsyncClient, owner: Member, resend_sandbox: ResendSandboxStore
    ) -> None:
        await self.subscribe(client, owner)
        await post_stripe(client, payment_failed_event(created=T0 + 10, attempt=1))
        await post_stripe(client, payment_failed_event(created=T0 + 20, attempt=2))
        await run_due_jobs(app)
        assert len(resend_sandbox.emails) == 2

    async def test_same_attempt_in_a_second_event_does_not_email_again(
        self, app: Any, client: httpx.AsyncClient, owner: Member, resend_sandbox: ResendSandboxStore
    ) -> None:
        await self.subscribe(client, owner)
        await post_stripe(client, payment_failed_event(created=T0 + 10, attempt=1))
        await post_stripe(client, payment_failed_event(created=T0 + 11, attempt=1))
        await run_due_jobs(app)
        assert len(resend_sandbox.emails) == 1

    async def test_concurrent_redeliveries_email_once(
        self, app: Any, client: httpx.AsyncClient, owner: Member, resend_sandbox: ResendSandboxStore
    ) -> None:
        await self.subscribe(client, owner)
        event = payment_failed_event(created=T0 + 10)
        responses = await asyncio.gather(*(post_stripe(client, event) for _ in range(3)))
        assert [r.status_code for r in responses] == [200] * 3
        await run_due_jobs(app)
        assert len(resend_sandbox.emails) == 1

    async def test_recovery_after_failure_is_not_undone_by_a_late_failure_event(
        self, app: Any, client: httpx.AsyncClient, owner: Member, resend_sandbox: ResendSandboxStore
    ) -> None:
        await self.subscribe(client, owner)
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0 + 30, status="active"))
        await post_stripe(client, payment_failed_event(created=T0 + 10))
        team = await team_row(app, owner.team_id)
        assert (team.billing_status, team.plan) == ("active", "pro")
        await run_due_jobs(app)
        assert len(resend_sandbox.emails) == 1

    async def test_invoice_without_subscription_marks_the_customer_past_due(
        self, app: Any, client: httpx.AsyncClient, owner: Member, resend_sandbox: ResendSandboxStore
    ) -> None:
        await self.subscribe(client, owner)
        await post_stripe(client, payment_failed_event(created=T0 + 10, subscription=None))
        assert (await team_row(app, owner.team_id)).billing_status == "past_due"
        await run_due_jobs(app)
        assert len(resend_sandbox.emails) == 1

    async def test_suppressed_owner_is_not_emailed(
        self, app: Any, client: httpx.AsyncClient, owner: Member, resend_sandbox: ResendSandboxStore
    ) -> None:
        await self.subscribe(client, owner)
        async with app.state.sessionmaker() as session, session.begin():
            user = await session.get(User, owner.user_id)
            assert user is not None
            session.add(EmailSuppression(address=user.email, reason="hard_bounce"))
        await post_stripe(client, payment_failed_event(created=T0 + 10))
        await run_due_jobs(app)
        assert resend_sandbox.emails == []
        async with app.state.sessionmaker() as session:
            email = await session.scalar(select(Email))
        assert email is not None
        assert email.status == EmailStatus.suppressed

    async def test_the_request_never_calls_resend_and_a_resend_outage_leaves_the_email_queued(
        self, app: Any, client: httpx.AsyncClient, owner: Member, resend_sandbox: ResendSandboxStore
    ) -> None:
        await self.subscribe(client, owner)
        resend_sandbox.fail_next.extend([503] * 5)
        event = payment_failed_event(created=T0 + 10)
        assert (await post_stripe(client, event)).status_code == 200
        assert (await team_row(app, owner.team_id)).billing_status == "past_due"
        async with app.state.sessionmaker() as session:
            [email] = await session.scalars(select(Email))
            assert email.status == EmailStatus.queued
            [(_, arguments)] = await jobs_of(session, SEND_EMAIL_TASK, email_id=email.id)
        # The job met the outage and waits for its retry; the webhook was applied all the same.
        await run_due_jobs(app)
        async with app.state.sessionmaker() as session:
            waiting = await session.get(Email, arguments["email_id"])
        assert waiting is not None
        assert waiting.status == EmailStatus.queued
        assert resend_sandbox.emails == []
        assert (await post_stripe(client, event)).status_code == 200
        assert await row_count(app, Email) == 1
