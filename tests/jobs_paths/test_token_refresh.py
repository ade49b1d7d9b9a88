"""Proactive token refresh: `integrations.refresh_token` against the sandbox providers' real OAuth endpoints, and
which integrations the periodic finder picks."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from platform_server.db import utcnow
from platform_server.integrations.models import Integration, IntegrationStatus
from platform_server.integrations.repository import TokenExpiryRepository
from platform_server.integrations.token_tasks import refresh_token
from platform_server.jobs.registry import JobContext, RetryLater
from tests.conftest import Member
from tests.integrations.test_tokens import _connect, _row, _secret, _token_calls

MakeContext = Callable[..., JobContext]
# Inside the default 10-minute window, outside the 5 minutes within which a request would refresh on its own.
DUE = timedelta(minutes=8)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"PLATFORM_SANDBOX": True}


async def expires_in(app: Any, integration_id: str, delta: timedelta, *, user: bool = False) -> None:
    column = "user_token_expires_at" if user else "token_expires_at"
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Integration).where(Integration.id == integration_id).values({column: utcnow() + delta})
        )


class TestRefreshJob:
    async def test_a_token_about_to_expire_is_refreshed_and_the_rotation_kept(
        self, app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
    ) -> None:
        integration_id = await _connect(app, client, owner, "jira")
        before = await _row(app, integration_id)
        await expires_in(app, integration_id, DUE)
        calls = _token_calls(app, "jira")

        await refresh_token(job_context(), integration_id=integration_id)

        assert _token_calls(app, "jira") == calls + 1
        after = await _row(app, integration_id)
        assert after.status == IntegrationStatus.connected
        assert after.token_expires_at is not None
        assert after.token_expires_at > utcnow() + timedelta(minutes=30)
        for field in ("access_token", "refresh_token"):
            assert _secret(app, after, field) != _secret(app, before, field)
        token = _secret(app, after, "access_token")
        assert token is not None
        _, problem = app.state.sandbox.authenticate("jira", token)
        assert problem is None

        # Run again (a retried job): the token is fresh now, the provider is not asked.
        await refresh_token(job_context(attempt=2), integration_id=integration_id)
        assert _token_calls(app, "jira") == calls + 1
        assert _secret(app, await _row(app, integration_id), "access_token") == token

    async def test_a_token_far_from_expiry_is_left_alone(
        self, app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
    ) -> None:
        integration_id = await _connect(app, client, owner, "linear")
        await expires_in(app, integration_id, timedelta(minutes=50))
        before = await _row(app, integration_id)
        calls = _token_calls(app, "linear")
        await refresh_token(job_context(), integration_id=integration_id)
        assert _token_calls(app, "linear") == calls
        assert _secret(app, await _row(app, integration_id), "access_token") == _secret(app, before, "access_token")

    async def test_a_slack_user_token_about_to_expire_is_refreshed_on_its_own(
        self, app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
    ) -> None:
        integration_id = await _connect(app, client, owner, "slack")
        await expires_in(app, integration_id, DUE, user=True)
        before = await _row(app, integration_id)
        calls = _token_calls(app, "slack")

        await refresh_token(job_context(), integration_id=integration_id)

        assert _token_calls(app, "slack") == calls + 1
        after = await _row(app, integration_id)
        assert _secret(app, after, "user_token") != _secret(app, before, "user_token")
        assert _secret(app, after, "access_token") == _secret(app, before, "access_token")
        assert after.user_token_expires_at is not None
        assert after.user_token_expires_at > utcnow() + timedelta(minutes=30)

    async def test_a_revoked_grant_marks_the_integration_expired_without_retrying(
        self, app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
    ) -> None:
        integration_id = await _connect(app, client, owner, "jira")
        store = app.state.sandbox
        store.revoke_grant(store.refresh_tokens[_secret(app, await _row(app, integration_id), "refresh_token")].grant)
        await expires_in(app, integration_id, DUE)

        await refresh_token(job_context(), integration_id=integration_id)

        row = await _row(app, integration_id)
        assert row.status == IntegrationStatus.expired
        assert "invalid_grant" in (row.status_reason or "")
        calls = _token_calls(app, "jira")
        await refresh_token(job_context(attempt=2), integration_id=integration_id)
        assert _token_calls(app, "jira") == calls

    async def test_an_outage_after_expiry_is_retried_later(
        self, app: Any, client: httpx.AsyncClient, owner: Member, job_context: MakeContext
    ) -> None:
        integration_id = await _connect(app, client, owner, "linear")
        await expires_in(app, integration_id, timedelta(minutes=-1))
        faults = app.state.sandbox.faults
        faults.error_every, faults.providers = 1, ["linear"]

        with pytest.raises(RetryLater) as retry:
            await refresh_token(job_context(), integration_id=integration_id)
        assert retry.value.delay > timedelta(0)
        assert (await _row(app, integration_id)).status == IntegrationStatus.error

        faults.error_every = 0
        await refresh_token(job_context(attempt=2), integration_id=integration_id)
        assert (await _row(app, integration_id)).status == IntegrationStatus.connected

    async def test_an_integration_deleted_meanwhile_is_skipped(self, job_context: MakeContext) -> None:
        await refresh_token(job_context(), integration_id="1234567890123456789")


class TestWhichAreDue:
    async def test_only_usable_refreshable_connections_expiring_within_the_window(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        due = await _connect(app, client, owner, "jira")
        await expires_in(app, due, DUE)
        slack_user_due = await _connect(app, client, owner, "slack")
        await expires_in(app, slack_user_due, timedelta(hours=1))
        await expires_in(app, slack_user_due, DUE, user=True)
        fresh = await _connect(app, client, owner, "linear")
        await expires_in(app, fresh, timedelta(hours=1))
        expired = await _connect(app, client, owner, "notion")
        await expires_in(app, expired, DUE)
        figma_without_refresh = await _connect(app, client, owner, "figma")
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(
                update(Integration).where(Integration.id == expired).values(status=IntegrationStatus.expired)
            )
            await session.execute(
                update(Integration)
                .where(Integration.id == figma_without_refresh)
                .values(refresh_token_encrypted=None, token_expires_at=utcnow() + DUE)
            )

        async with app.state.sessionmaker() as session:
            found = await TokenExpiryRepository(session).expiring_before(utcnow() + timedelta(minutes=10), 100)

        assert sorted(found) == sorted([due, slack_user_due])
