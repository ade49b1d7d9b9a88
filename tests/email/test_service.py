"""Queueing email: the row and its `email.send` job in the caller's transaction; the job sends it (the job itself
is tested in tests/jobs_paths/test_email_send.py)."""

from typing import Any

import pytest
from sqlalchemy import select

from platform_server.email.models import Email, EmailStatus, EmailSuppression
from platform_server.email.sender import LogSender, ResendSender, build_email_sender
from platform_server.email.service import SEND_EMAIL_TASK, email_service
from platform_server.sandbox.resend import ResendSandboxStore
from tests.conftest import make_settings, row_count
from tests.email.conftest import RESEND_API_KEY, RESEND_BASE_URL
from tests.jobs_paths.helpers import jobs_of, run_due_jobs


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"RESEND_API_KEY": RESEND_API_KEY, "RESEND_API_BASE_URL": RESEND_BASE_URL}


async def queue(app: Any, to: str = "Ada@Example.com", key: str = "test/1") -> Email:
    async with app.state.sessionmaker() as session, session.begin():
        return await email_service.queue(session, to=to, subject="Hello", text="Body", kind="test", idempotency_key=key)


async def reload(app: Any, email_id: str) -> Email:
    async with app.state.sessionmaker() as session:
        email = await session.get(Email, email_id)
    assert email is not None
    return email


class TestQueue:
    async def test_the_email_and_its_job_are_written_in_the_callers_transaction(
        self, app: Any, resend_sandbox: ResendSandboxStore
    ) -> None:
        async with app.state.sessionmaker() as session, session.begin():
            email = await email_service.queue(
                session, to="Ada@Example.com", subject="Hello", text="Body", kind="test", idempotency_key="test/1"
            )
            assert (email.status, email.to_address, email.text_body) == (EmailStatus.queued, "ada@example.com", "Body")
            assert await jobs_of(session, SEND_EMAIL_TASK, email_id=email.id) == [("todo", {"email_id": email.id})]
            # Nothing leaves before the commit.
            assert resend_sandbox.requests == 0

        await run_due_jobs(app)

        [sent] = resend_sandbox.emails
        assert (sent.to, sent.subject, sent.text, sent.idempotency_key) == (
            ["ada@example.com"],
            "Hello",
            "Body",
            "test/1",
        )
        email = await reload(app, email.id)
        assert (email.status, email.resend_id) == (EmailStatus.sent, sent.id)

    async def test_a_rolled_back_transaction_leaves_neither_email_nor_job(
        self, app: Any, resend_sandbox: ResendSandboxStore
    ) -> None:
        async with app.state.sessionmaker() as session:
            transaction = await session.begin()
            email = await email_service.queue(
                session, to="ada@example.com", subject="Hello", text="Body", kind="test", idempotency_key="k"
            )
            assert len(await jobs_of(session, SEND_EMAIL_TASK, email_id=email.id)) == 1
            # The request fails after queueing: its transaction rolls back.
            await transaction.rollback()
        assert await row_count(app, Email) == 0
        async with app.state.sessionmaker() as session:
            assert await jobs_of(session, SEND_EMAIL_TASK, email_id=email.id) == []
        await run_due_jobs(app)
        assert resend_sandbox.requests == 0

    async def test_the_same_idempotency_key_queues_and_sends_once(
        self, app: Any, resend_sandbox: ResendSandboxStore
    ) -> None:
        first = await queue(app)
        second = await queue(app)
        assert first.id == second.id
        await run_due_jobs(app)
        assert await queue(app) is not None
        await run_due_jobs(app)
        assert len(resend_sandbox.emails) == 1
        assert await row_count(app, Email) == 1
        async with app.state.sessionmaker() as session:
            assert len(await jobs_of(session, SEND_EMAIL_TASK, email_id=first.id)) == 1

    async def test_a_suppressed_address_is_recorded_but_never_queued(
        self, app: Any, resend_sandbox: ResendSandboxStore
    ) -> None:
        async with app.state.sessionmaker() as session, session.begin():
            session.add(EmailSuppression(address="ada@example.com", reason="hard_bounce"))
        email = await queue(app, to=" ADA@example.com ")
        assert email.status == EmailStatus.suppressed
        async with app.state.sessionmaker() as session:
            assert await jobs_of(session, SEND_EMAIL_TASK, email_id=email.id) == []
        await run_due_jobs(app)
        assert resend_sandbox.requests == 0
        assert (await reload(app, email.id)).resend_id is None


class TestDevelopmentBackend:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}

    async def test_without_a_key_emails_are_logged_and_recorded(self, app: Any) -> None:
        assert isinstance(app.state.resources.email_sender, LogSender)
        email = await queue(app)
        await run_due_jobs(app)
        email = await reload(app, email.id)
        assert email.status == EmailStatus.sent
        assert email.resend_id is None
        async with app.state.sessionmaker() as session:
            assert [e.to_address for e in await session.scalars(select(Email))] == ["ada@example.com"]

    async def test_with_a_key_the_resend_sender_is_used(self, database: Any) -> None:
        sender = build_email_sender(make_settings(database.url, RESEND_API_KEY=RESEND_API_KEY))
        assert isinstance(sender, ResendSender)
        await sender.aclose()
