"""The job paths through the engine: on SQLite the in-process runner inside the app, on PostgreSQL a
`platform-server worker` process; Resend is the sandbox served over HTTP, so the worker reaches it as it would
reach Resend."""

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_server.db import utcnow
from platform_server.email.models import Email, EmailStatus
from platform_server.integrations.token_tasks import REFRESH_TOKEN_TASK, refresh_expiring_tokens
from platform_server.jobs.registry import JobContext
from platform_server.sandbox.resend import ResendSandboxStore, create_resend_sandbox
from tests.billing.conftest import PRO_PRICE, STRIPE_SECRET, T0, payment_failed_event, post_stripe, subscription_event
from tests.conftest import TEST_SECRET_KEY, Database, Member
from tests.email.conftest import RESEND_API_KEY
from tests.integrations.test_tokens import _connect, _row, _secret, _token_calls
from tests.jobs_paths.helpers import jobs_of, run_due_jobs
from tests.jobs_paths.servers import serve_app
from tests.jobs_paths.test_token_refresh import DUE, expires_in
from tests.test_cli import COMMAND

MakeContext = Callable[..., JobContext]
# How long a job may take to go through a worker process before the test gives up (never a timing assertion).
PATIENCE_SECONDS = 60


class ResendOverHttp:
    def __init__(self, base_url: str, store: ResendSandboxStore) -> None:
        self.base_url = base_url
        self.store = store


@pytest.fixture
async def resend_over_http() -> AsyncIterator[ResendOverHttp]:
    sandbox = create_resend_sandbox({RESEND_API_KEY})
    async with serve_app(sandbox) as base_url:
        yield ResendOverHttp(base_url, sandbox.state.store)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    if "resend_over_http" not in request.fixturenames:
        return {"PLATFORM_SANDBOX": True}
    resend: ResendOverHttp = request.getfixturevalue("resend_over_http")
    return {
        "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
        "STRIPE_PRO_PRICE_IDS": PRO_PRICE,
        "RESEND_API_KEY": RESEND_API_KEY,
        "RESEND_API_BASE_URL": resend.base_url,
    }


def start_worker(database: Database, resend: ResendOverHttp) -> subprocess.Popen[str]:
    """`platform-server worker` as an operator starts it, on the email queue only."""
    inherited = {key: value for key, value in os.environ.items() if not key.upper().startswith(("DATABASE", "REDIS"))}
    env = {
        **inherited,
        "DATABASE_URL": database.url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "PLATFORM_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "RESEND_API_KEY": RESEND_API_KEY,
        "RESEND_API_BASE_URL": resend.base_url,
    }
    return subprocess.Popen(
        [COMMAND, "worker", "--queues", "email", "--concurrency", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def email_rows(app: Any) -> list[Email]:
    async with app.state.sessionmaker() as session:
        return list(await session.scalars(select(Email).order_by(Email.id)))


async def until_sent(app: Any, count: int) -> list[Email]:
    for _ in range(PATIENCE_SECONDS * 10):
        emails = await email_rows(app)
        if len(emails) == count and all(email.status == EmailStatus.sent for email in emails):
            return emails
        await asyncio.sleep(0.1)
    pytest.fail(f"the emails were not sent: {[(email.status, email.error) for email in await email_rows(app)]}")


async def test_a_payment_failure_email_leaves_the_request_and_is_sent_by_the_engine(
    app: Any, client: httpx.AsyncClient, owner: Member, database: Database, resend_over_http: ResendOverHttp
) -> None:
    worker = start_worker(database, resend_over_http) if database.backend == "postgres" else None
    try:
        await post_stripe(client, subscription_event(team_id=owner.team_id, created=T0))
        event = payment_failed_event(created=T0 + 10)
        responses = [await post_stripe(client, event) for _ in range(2)]
        assert [response.status_code for response in responses] == [200, 200]

        # Nobody drains the queue here: the runner inside the app (SQLite) or the worker process (PostgreSQL)
        # takes the job by itself.
        [email] = await until_sent(app, 1)
    finally:
        if worker is not None:
            worker.terminate()
            _, stderr = worker.communicate(timeout=60)
    if worker is not None:
        assert worker.returncode == 0, stderr
    [sent] = resend_over_http.store.emails
    assert email.resend_id == sent.id
    assert sent.idempotency_key == email.idempotency_key
    assert sent.subject == "Payment failed for Acme"


async def test_an_expiring_token_is_refreshed_through_the_queue_once(
    app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
) -> None:
    due = await _connect(app, client, owner, "jira")
    fresh = await _connect(app, client, owner, "linear")
    await expires_in(app, due, DUE)
    await expires_in(app, fresh, timedelta(hours=1))
    before = await _row(app, due)
    jira_calls, linear_calls = _token_calls(app, "jira"), _token_calls(app, "linear")

    # Two runs of the finder: the queueing lock keeps at most one refresh waiting per integration, and a
    # refresh already running (SQLite's runner starts it at once) makes a second one find the token fresh.
    await refresh_expiring_tokens(job_context())
    await refresh_expiring_tokens(job_context())
    async with app.state.sessionmaker() as session:
        waiting = await jobs_of(session, REFRESH_TOKEN_TASK, integration_id=due)
        assert len([status for status, _ in waiting if status == "todo"]) <= 1
        assert await jobs_of(session, REFRESH_TOKEN_TASK, integration_id=fresh) == []
    await run_due_jobs(app)

    assert _token_calls(app, "jira") == jira_calls + 1
    assert _token_calls(app, "linear") == linear_calls
    after = await _row(app, due)
    assert _secret(app, after, "access_token") != _secret(app, before, "access_token")
    assert after.token_expires_at is not None
    assert after.token_expires_at > utcnow() + timedelta(minutes=30)
