"""`email.send`: a queued email goes out once through the simulated Resend, whatever happens around the send."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from platform_server.email.models import Email, EmailStatus
from platform_server.email.service import email_service
from platform_server.email.tasks import SEND_ATTEMPTS, send_email
from platform_server.jobs.backoff import backoff
from platform_server.jobs.registry import JobContext, RetryLater
from platform_server.sandbox.resend import ResendSandboxStore
from platform_server.sqlite_inline import PreparedTransaction
from tests.conftest import make_settings
from tests.email.conftest import RESEND_API_KEY, RESEND_BASE_URL

MakeContext = Callable[..., JobContext]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"RESEND_API_KEY": RESEND_API_KEY, "RESEND_API_BASE_URL": RESEND_BASE_URL}


async def queued_email(app: Any, key: str = "test/1", status: str = EmailStatus.queued) -> str:
    """An email as a request records it (the row the job reads), without the deferred job."""
    async with app.state.sessionmaker() as session, session.begin():
        email = Email(
            kind="test",
            to_address="ada@example.com",
            subject="Hello",
            text_body="Body",
            html_body="<p>Body</p>",
            idempotency_key=key,
            status=status,
            events=[],
        )
        session.add(email)
    return email.id


async def email_row(app: Any, email_id: str) -> Email:
    async with app.state.sessionmaker() as session:
        email = await session.scalar(select(Email).where(Email.id == email_id))
    assert email is not None
    return email


class TestSend:
    async def test_sends_with_the_idempotency_key_and_records_the_provider_id(
        self, app: Any, resend_sandbox: ResendSandboxStore, job_context: MakeContext
    ) -> None:
        email_id = await queued_email(app)
        await send_email(job_context(), email_id=email_id)
        [sent] = resend_sandbox.emails
        assert (sent.to, sent.subject, sent.text, sent.html) == (["ada@example.com"], "Hello", "Body", "<p>Body</p>")
        assert sent.idempotency_key == "test/1"
        email = await email_row(app, email_id)
        assert (email.status, email.resend_id) == (EmailStatus.sent, sent.id)
        assert email.sent_at is not None
        assert [event["type"] for event in email.events] == ["sent"]
        # The body was only kept for the job.
        assert (email.text_body, email.html_body) == (None, None)

    async def test_a_second_run_sends_nothing_and_changes_nothing(
        self, app: Any, resend_sandbox: ResendSandboxStore, job_context: MakeContext
    ) -> None:
        email_id = await queued_email(app)
        await send_email(job_context(), email_id=email_id)
        first = await email_row(app, email_id)
        await send_email(job_context(attempt=2), email_id=email_id)
        second = await email_row(app, email_id)
        assert len(resend_sandbox.emails) == 1
        assert resend_sandbox.requests == 1
        assert (second.status, second.resend_id, second.sent_at, second.events) == (
            first.status,
            first.resend_id,
            first.sent_at,
            first.events,
        )

    async def test_a_crash_between_send_and_record_does_not_send_twice(
        self, app: Any, resend_sandbox: ResendSandboxStore, job_context: MakeContext
    ) -> None:
        email_id = await queued_email(app)
        # The first attempt got as far as Resend's answer, then its worker died: nothing was recorded.
        async with PreparedTransaction.begin(app.state.engine) as transaction:
            message = await email_service.outbound(transaction, app.state.settings, email_id)
        assert message is not None
        first_provider_id = await app.state.email_sender.send(message)
        assert (await email_row(app, email_id)).status == EmailStatus.queued

        await send_email(job_context(attempt=2), email_id=email_id)

        assert resend_sandbox.requests == 2
        assert len(resend_sandbox.emails) == 1
        email = await email_row(app, email_id)
        assert (email.status, email.resend_id) == (EmailStatus.sent, first_provider_id)

    @pytest.mark.parametrize("status", [EmailStatus.sent, EmailStatus.failed, EmailStatus.suppressed])
    async def test_an_email_no_longer_queued_is_left_alone(
        self, app: Any, resend_sandbox: ResendSandboxStore, job_context: MakeContext, status: str
    ) -> None:
        email_id = await queued_email(app, status=status)
        await send_email(job_context(), email_id=email_id)
        assert resend_sandbox.requests == 0
        assert (await email_row(app, email_id)).status == status

    @pytest.mark.parametrize("email_id", ["1234567890123456789", "not-an-id"])
    async def test_an_unknown_email_sends_nothing(
        self, resend_sandbox: ResendSandboxStore, job_context: MakeContext, email_id: str
    ) -> None:
        await send_email(job_context(), email_id=email_id)
        assert resend_sandbox.requests == 0


class TestFailures:
    async def test_rate_limited_retries_after_resends_retry_after(
        self, app: Any, resend_sandbox: ResendSandboxStore, job_context: MakeContext
    ) -> None:
        email_id = await queued_email(app)
        resend_sandbox.fail_next.append(429)
        with pytest.raises(RetryLater) as retry:
            await send_email(job_context(), email_id=email_id)
        assert retry.value.delay == timedelta(seconds=1)
        assert "429" in retry.value.reason
        assert (await email_row(app, email_id)).status == EmailStatus.queued

        await send_email(job_context(attempt=2), email_id=email_id)
        assert (await email_row(app, email_id)).status == EmailStatus.sent
        assert len(resend_sandbox.emails) == 1

    async def test_server_errors_back_off_then_give_up_on_the_last_attempt(
        self, app: Any, resend_sandbox: ResendSandboxStore, job_context: MakeContext
    ) -> None:
        email_id = await queued_email(app)
        for attempt in range(1, SEND_ATTEMPTS):
            resend_sandbox.fail_next.append(503)
            with pytest.raises(RetryLater) as retry:
                await send_email(job_context(attempt=attempt), email_id=email_id)
            assert retry.value.delay == backoff(attempt)
        assert backoff(1) < backoff(2) < backoff(3)
        resend_sandbox.fail_next.append(503)
        await send_email(job_context(attempt=SEND_ATTEMPTS), email_id=email_id)

        email = await email_row(app, email_id)
        assert email.status == EmailStatus.failed
        assert email.error is not None
        assert "503" in email.error
        assert f"gave up after {SEND_ATTEMPTS} attempts" in email.error
        assert resend_sandbox.emails == []

    async def test_a_refusal_fails_the_email_at_once_with_the_reason(
        self, app: Any, database: Any, resend_sandbox: ResendSandboxStore, job_context: MakeContext
    ) -> None:
        email_id = await queued_email(app)
        app.state.settings = make_settings(
            database.url,
            EMAIL_FROM="not-an-address",
            RESEND_API_KEY=RESEND_API_KEY,
            RESEND_API_BASE_URL=RESEND_BASE_URL,
        )
        await send_email(job_context(), email_id=email_id)
        email = await email_row(app, email_id)
        assert email.status == EmailStatus.failed
        assert email.error is not None
        assert "from" in email.error
        assert resend_sandbox.emails == []
        # A failed email stays failed: running the job again sends nothing.
        await send_email(job_context(attempt=2), email_id=email_id)
        assert resend_sandbox.requests == 1
