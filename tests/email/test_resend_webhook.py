import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_server.email.models import Email, EmailStatus, EmailSuppression
from platform_server.email.service import email_service
from platform_server.sandbox.resend import ResendSandboxStore
from platform_server.webhook_events.models import WebhookEvent
from tests.conftest import row_count
from tests.email.conftest import (
    RESEND_API_KEY,
    RESEND_BASE_URL,
    RESEND_WEBHOOK_SECRET,
    post_resend,
    resend_event,
    sign_resend,
)
from tests.jobs_paths.helpers import run_due_jobs

pytestmark = pytest.mark.usefixtures("resend_sandbox")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "RESEND_API_KEY": RESEND_API_KEY,
        "RESEND_API_BASE_URL": RESEND_BASE_URL,
        "RESEND_WEBHOOK_SECRET": RESEND_WEBHOOK_SECRET,
    }


async def sent_email(app: Any, to: str = "ada@example.com", key: str = "k1") -> Email:
    """Queued as a request queues it, then sent by its job."""
    async with app.state.sessionmaker() as session, session.begin():
        email = await email_service.queue(session, to=to, subject="Hi", text="x", kind="test", idempotency_key=key)
    await run_due_jobs(app)
    return await reload(app, email.id)


async def reload(app: Any, email_id: str) -> Email:
    async with app.state.sessionmaker() as session:
        email = await session.get(Email, email_id)
        assert email is not None
        return email


def at(minute: int) -> str:
    """A time after the email was sent, `minute` minutes on."""
    return (datetime.now(UTC) + timedelta(minutes=minute + 1)).isoformat().replace("+00:00", "Z")


class TestVerification:
    async def test_valid_event_is_acknowledged_and_applied(self, app: Any, client: httpx.AsyncClient) -> None:
        email = await sent_email(app)
        response = await post_resend(client, resend_event("email.delivered", email.resend_id or ""), "msg_1")
        assert response.status_code == 200
        assert response.json() == {"received": True}
        assert (await reload(app, email.id)).status == EmailStatus.delivered

    @pytest.mark.parametrize(
        "tamper",
        ["no_headers", "no_signature", "wrong_secret", "too_old", "too_new", "malformed_signature", "body_changed"],
    )
    async def test_bad_signature_is_refused_and_stores_nothing(
        self, app: Any, client: httpx.AsyncClient, tamper: str
    ) -> None:
        email = await sent_email(app)
        body = resend_event("email.delivered", email.resend_id or "")
        headers = sign_resend(body, "msg_bad")
        if tamper == "no_headers":
            headers = {"content-type": "application/json"}
        elif tamper == "no_signature":
            del headers["svix-signature"]
        elif tamper == "wrong_secret":
            headers = sign_resend(body, "msg_bad", secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
        elif tamper == "too_old":
            headers = sign_resend(body, "msg_bad", at=datetime.now(UTC) - timedelta(minutes=6))
        elif tamper == "too_new":
            headers = sign_resend(body, "msg_bad", at=datetime.now(UTC) + timedelta(minutes=6))
        elif tamper == "malformed_signature":
            headers["svix-signature"] = "garbage"
        elif tamper == "body_changed":
            body = resend_event("email.bounced", email.resend_id or "")
        response = await client.post("/api/webhooks/resend", content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert await row_count(app, WebhookEvent) == 0
        assert (await reload(app, email.id)).status == EmailStatus.sent

    async def test_signed_body_that_is_not_json_is_refused(self, app: Any, client: httpx.AsyncClient) -> None:
        response = await post_resend(client, b"{not json", "msg_1")
        assert response.status_code == 400
        assert await row_count(app, WebhookEvent) == 0

    async def test_signed_json_without_type_is_refused(self, app: Any, client: httpx.AsyncClient) -> None:
        response = await post_resend(client, b'{"data": {}}', "msg_1")
        assert response.status_code == 400
        assert await row_count(app, WebhookEvent) == 0


class TestDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"RESEND_API_KEY": RESEND_API_KEY, "RESEND_API_BASE_URL": RESEND_BASE_URL}

    async def test_without_a_secret_the_endpoint_is_not_found(self, app: Any, client: httpx.AsyncClient) -> None:
        response = await post_resend(client, resend_event("email.delivered", "x"), "msg_1")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
        assert await row_count(app, WebhookEvent) == 0


class TestDeduplication:
    async def test_each_svix_id_is_stored_once(self, app: Any, client: httpx.AsyncClient) -> None:
        email = await sent_email(app)
        body = resend_event("email.delivered", email.resend_id or "")
        for _ in range(3):
            response = await post_resend(client, body, "msg_same")
            assert response.status_code == 200
        assert await row_count(app, WebhookEvent) == 1
        assert [event["type"] for event in (await reload(app, email.id)).events] == ["sent", "delivered"]

    async def test_concurrent_duplicates_apply_once(self, app: Any, client: httpx.AsyncClient) -> None:
        email = await sent_email(app)
        body = resend_event("email.opened", email.resend_id or "")
        responses = await asyncio.gather(*(post_resend(client, body, "msg_same") for _ in range(4)))
        assert [r.status_code for r in responses] == [200] * 4
        assert await row_count(app, WebhookEvent) == 1
        assert [event["type"] for event in (await reload(app, email.id)).events] == ["sent", "opened"]

    async def test_unknown_email_is_stored_and_acknowledged(self, app: Any, client: httpx.AsyncClient) -> None:
        response = await post_resend(client, resend_event("email.delivered", "not-ours"), "msg_1")
        assert response.status_code == 200
        async with app.state.sessionmaker() as session:
            event = await session.scalar(select(WebhookEvent))
        assert event is not None
        assert (event.source, event.external_id, event.type) == ("resend", "msg_1", "email.delivered")
        assert event.processed_at is None


class TestStateMachine:
    @pytest.mark.parametrize("seed", range(4))
    async def test_shuffled_events_end_in_the_furthest_state(
        self, app: Any, client: httpx.AsyncClient, seed: int
    ) -> None:
        email = await sent_email(app)
        events = [("email.delivered", 1), ("email.opened", 2), ("email.clicked", 3), ("email.delivery_delayed", 0)]
        random.Random(seed).shuffle(events)
        for index, (event_type, minute) in enumerate(events):
            body = resend_event(event_type, email.resend_id or "", created_at=at(minute))
            assert (await post_resend(client, body, f"msg_{index}")).status_code == 200
        stored = await reload(app, email.id)
        assert stored.status == EmailStatus.clicked
        assert [event["type"] for event in stored.events][1:] == ["delivery_delayed", "delivered", "opened", "clicked"]

    async def test_opened_before_delivered_stays_opened(self, app: Any, client: httpx.AsyncClient) -> None:
        email = await sent_email(app)
        await post_resend(client, resend_event("email.opened", email.resend_id or "", created_at=at(2)), "m1")
        await post_resend(client, resend_event("email.delivered", email.resend_id or "", created_at=at(1)), "m2")
        assert (await reload(app, email.id)).status == EmailStatus.opened

    @pytest.mark.parametrize("seed", range(3))
    async def test_nothing_overrides_bounced(self, app: Any, client: httpx.AsyncClient, seed: int) -> None:
        email = await sent_email(app)
        bounce = {"message": "Mailbox full", "type": "Transient", "subType": "MailboxFull"}
        events: list[tuple[str, dict[str, Any]]] = [
            ("email.delivered", {}),
            ("email.bounced", {"bounce": bounce}),
            ("email.opened", {}),
            ("email.complained", {}),
        ]
        random.Random(seed).shuffle(events)
        for index, (event_type, extra) in enumerate(events):
            await post_resend(client, resend_event(event_type, email.resend_id or "", **extra), f"msg_{index}")
        assert (await reload(app, email.id)).status == EmailStatus.bounced

    async def test_non_email_events_are_stored_and_acknowledged(self, app: Any, client: httpx.AsyncClient) -> None:
        body = b'{"type": "contact.created", "created_at": "2026-01-01T00:00:00Z", "data": {"id": "c1"}}'
        assert (await post_resend(client, body, "msg_contact")).status_code == 200
        assert await row_count(app, WebhookEvent) == 1


class TestSuppression:
    async def test_hard_bounce_suppresses_the_address(
        self, app: Any, client: httpx.AsyncClient, resend_sandbox: ResendSandboxStore
    ) -> None:
        email = await sent_email(app, to="Gone@Example.com")
        bounce = {"message": "The recipient does not exist.", "type": "Permanent", "subType": "General"}
        body = resend_event("email.bounced", email.resend_id or "", to="Gone@Example.com", bounce=bounce)
        assert (await post_resend(client, body, "msg_bounce")).status_code == 200
        assert (await reload(app, email.id)).status == EmailStatus.bounced
        async with app.state.sessionmaker() as session:
            suppression = await session.scalar(select(EmailSuppression))
        assert suppression is not None
        assert (suppression.address, suppression.reason) == ("gone@example.com", "hard_bounce")
        later = await sent_email(app, to="gone@example.com", key="k2")
        assert later.status == EmailStatus.suppressed
        assert len(resend_sandbox.emails) == 1

    async def test_soft_bounce_does_not_suppress(self, app: Any, client: httpx.AsyncClient) -> None:
        email = await sent_email(app)
        bounce = {"message": "Mailbox full", "type": "Transient", "subType": "MailboxFull"}
        await post_resend(client, resend_event("email.bounced", email.resend_id or "", bounce=bounce), "m1")
        assert await row_count(app, EmailSuppression) == 0
        assert (await sent_email(app, key="k2")).status == EmailStatus.sent

    async def test_complaint_suppresses(self, app: Any, client: httpx.AsyncClient) -> None:
        email = await sent_email(app)
        await post_resend(client, resend_event("email.complained", email.resend_id or ""), "m1")
        assert (await sent_email(app, key="k2")).status == EmailStatus.suppressed

    async def test_hard_bounce_for_an_unknown_email_still_suppresses(self, app: Any, client: httpx.AsyncClient) -> None:
        bounce = {"message": "no such user", "type": "Permanent", "subType": "General"}
        body = resend_event("email.bounced", "not-ours", to="x@example.com", bounce=bounce)
        for _ in range(2):
            assert (await post_resend(client, body, "m1")).status_code == 200
        assert await row_count(app, EmailSuppression) == 1
