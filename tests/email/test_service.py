from typing import Any

import pytest
from sqlalchemy import select

from platform_server.email.models import Email, EmailStatus, EmailSuppression
from platform_server.email.sender import LogSender, ResendSender, build_email_sender
from platform_server.email.service import EmailUnavailable, email_service
from platform_server.sandbox.resend import ResendSandboxStore, create_resend_sandbox
from tests.conftest import make_settings, row_count
from tests.email.conftest import RESEND_API_KEY, RESEND_BASE_URL, resend_transport


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"RESEND_API_KEY": RESEND_API_KEY, "RESEND_API_BASE_URL": RESEND_BASE_URL}


async def send(app: Any, to: str = "Ada@Example.com", key: str = "test/1", **overrides: Any) -> Email:
    async with app.state.sessionmaker() as session, session.begin():
        return await email_service.send(
            session,
            app.state.email_sender,
            overrides.pop("settings", app.state.settings),
            to=to,
            subject="Hello",
            text="Body",
            kind="test",
            idempotency_key=key,
            **overrides,
        )


async def emails(app: Any) -> list[Email]:
    async with app.state.sessionmaker() as session:
        return list(await session.scalars(select(Email).order_by(Email.id)))


class TestSend:
    async def test_sends_through_resend_and_records_the_email(
        self, app: Any, resend_sandbox: ResendSandboxStore
    ) -> None:
        email = await send(app)
        assert email.status == EmailStatus.sent
        assert email.to_address == "ada@example.com"
        [sent] = resend_sandbox.emails
        assert email.resend_id == sent.id
        assert sent.to == ["ada@example.com"]
        assert sent.subject == "Hello"
        assert sent.idempotency_key == "test/1"
        assert [event["type"] for event in email.events] == ["sent"]

    async def test_same_idempotency_key_sends_once(self, app: Any, resend_sandbox: ResendSandboxStore) -> None:
        first = await send(app)
        second = await send(app)
        assert first.id == second.id
        assert len(resend_sandbox.emails) == 1
        assert await row_count(app, Email) == 1

    async def test_suppressed_address_is_recorded_but_not_sent(
        self, app: Any, resend_sandbox: ResendSandboxStore
    ) -> None:
        async with app.state.sessionmaker() as session, session.begin():
            session.add(EmailSuppression(address="ada@example.com", reason="hard_bounce"))
        email = await send(app, to=" ADA@example.com ")
        assert email.status == EmailStatus.suppressed
        assert email.resend_id is None
        assert resend_sandbox.emails == []

    async def test_transient_failure_raises_and_leaves_nothing(
        self, app: Any, resend_sandbox: ResendSandboxStore
    ) -> None:
        resend_sandbox.fail_next.append(503)
        with pytest.raises(EmailUnavailable):
            await send(app)
        assert await row_count(app, Email) == 0
        # The retry goes out under the same key, so Resend could deduplicate a send that did get through.
        email = await send(app)
        assert email.status == EmailStatus.sent
        assert [sent.idempotency_key for sent in resend_sandbox.emails] == ["test/1"]

    async def test_rate_limited_is_transient(self, app: Any, resend_sandbox: ResendSandboxStore) -> None:
        resend_sandbox.fail_next.append(429)
        with pytest.raises(EmailUnavailable):
            await send(app)
        assert await row_count(app, Email) == 0

    async def test_refused_email_is_recorded_as_failed(
        self, app: Any, database: Any, resend_sandbox: ResendSandboxStore
    ) -> None:
        bad_from = make_settings(database.url, EMAIL_FROM="not-an-address", RESEND_API_KEY=RESEND_API_KEY)
        email = await send(app, settings=bad_from)
        assert email.status == EmailStatus.failed
        assert email.error is not None
        assert "from" in email.error
        assert resend_sandbox.emails == []

    async def test_wrong_api_key_is_a_refusal(self, app: Any, database: Any) -> None:
        sandbox = create_resend_sandbox({RESEND_API_KEY})
        wrong = make_settings(database.url, RESEND_API_KEY="re_wrong", RESEND_API_BASE_URL=RESEND_BASE_URL)
        sender = build_email_sender(wrong, transport=resend_transport(sandbox))
        try:
            async with app.state.sessionmaker() as session, session.begin():
                email = await email_service.send(
                    session, sender, wrong, to="a@b.example", subject="s", text="t", kind="test", idempotency_key="k"
                )
        finally:
            await sender.aclose()
        assert email.status == EmailStatus.failed
        assert sandbox.state.store.emails == []


class TestDevelopmentBackend:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}

    async def test_without_a_key_emails_are_logged_and_recorded(self, app: Any) -> None:
        assert isinstance(app.state.email_sender, LogSender)
        email = await send(app)
        assert email.status == EmailStatus.sent
        assert email.resend_id is None
        assert [e.to_address for e in await emails(app)] == ["ada@example.com"]

    async def test_with_a_key_the_resend_sender_is_used(self, database: Any) -> None:
        sender = build_email_sender(make_settings(database.url, RESEND_API_KEY=RESEND_API_KEY))
        assert isinstance(sender, ResendSender)
        await sender.aclose()
