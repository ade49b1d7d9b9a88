"""`maintenance.delete_expired`: only what can no longer be used goes, a bounded number of batches per run."""

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from platform_server.auth.models import ApiKey
from platform_server.billing.models import StripePendingEvent
from platform_server.db import utcnow
from platform_server.gateway.models import ToolCall
from platform_server.ids import first_id_at
from platform_server.integrations.models import Integration, OAuthState
from platform_server.jobs.maintenance import delete_expired
from platform_server.jobs.registry import JobContext
from platform_server.oauth_server.models import (
    OAuthAuthorizationCode,
    OAuthClient,
    OAuthConsent,
    OAuthToken,
    TokenKind,
)
from platform_server.web.models import WebSession
from platform_server.webhook_events.models import WebhookEvent
from tests.conftest import Member, make_settings

MakeContext = Callable[..., JobContext]
DAY = timedelta(days=1)


def _hash() -> str:
    return secrets.token_hex(32)


def _id_at(moment: datetime, offset: int) -> str:
    """A row id minted at `moment` (ids are time-ordered), distinct per offset."""
    return str(int(first_id_at(moment)) + offset)


class Rows:
    """Rows of every table the task cleans, each either past its end or still in use."""

    def __init__(self, app: Any, owner: Member) -> None:
        self.app = app
        self.owner = owner
        self.offset = 0

    def next_offset(self) -> int:
        self.offset += 1
        return self.offset

    async def web_sessions(self, *expiries: datetime) -> list[str]:
        async with self.app.state.sessionmaker() as session, session.begin():
            api_key_id = await session.scalar(select(ApiKey.id).where(ApiKey.user_id == self.owner.user_id))
            rows = [
                WebSession(
                    token_hash=_hash(),
                    team_id=self.owner.team_id,
                    user_id=self.owner.user_id,
                    api_key_id=api_key_id,
                    expires_at=expires_at,
                )
                for expires_at in expiries
            ]
            session.add_all(rows)
        return [row.id for row in rows]

    async def oauth_states(self, *expiries: datetime) -> list[str]:
        async with self.app.state.sessionmaker() as session, session.begin():
            integration = Integration(team_id=self.owner.team_id, provider="github", name=f"gh-{_hash()[:8]}")
            session.add(integration)
            await session.flush()
            rows = [
                OAuthState(
                    state_hash=_hash(),
                    team_id=self.owner.team_id,
                    user_id=self.owner.user_id,
                    integration_id=integration.id,
                    redirect_uri="http://testserver/callback",
                    expires_at=expires_at,
                )
                for expires_at in expiries
            ]
            session.add_all(rows)
        return [row.id for row in rows]

    async def grants(self, *expiries: datetime) -> tuple[list[str], list[str]]:
        """(code ids, token ids): an authorization code and an access token per expiry, in one family."""
        async with self.app.state.sessionmaker() as session, session.begin():
            client = OAuthClient(
                client_id=f"client-{_hash()[:12]}",
                registration="dynamic",
                client_name="Claude",
                redirect_uris=["http://127.0.0.1/callback"],
            )
            session.add(client)
            await session.flush()
            consent = OAuthConsent(
                client_row_id=client.id,
                team_id=self.owner.team_id,
                user_id=self.owner.user_id,
                workspace_id=self.owner.workspace_id,
                scope="mcp",
            )
            session.add(consent)
            await session.flush()
            codes = [
                OAuthAuthorizationCode(
                    code_hash=_hash(),
                    consent_id=consent.id,
                    redirect_uri="http://127.0.0.1/callback",
                    resource="http://testserver/mcp",
                    scope="mcp",
                    code_challenge="x" * 43,
                    expires_at=expires_at,
                )
                for expires_at in expiries
            ]
            tokens = [
                OAuthToken(
                    token_hash=_hash(),
                    kind=TokenKind.access,
                    consent_id=consent.id,
                    family_id=consent.id,
                    scope="mcp",
                    resource="http://testserver/mcp",
                    expires_at=expires_at,
                )
                for expires_at in expiries
            ]
            session.add_all([*codes, *tokens])
        return [code.id for code in codes], [token.id for token in tokens]

    async def webhook_events(self, *received: datetime, waiting: bool = False) -> list[str]:
        async with self.app.state.sessionmaker() as session, session.begin():
            rows = [
                WebhookEvent(
                    id=_id_at(at, self.next_offset()),
                    source="stripe",
                    external_id=f"evt_{_hash()[:16]}",
                    type="customer.subscription.updated",
                    payload={},
                    received_at=at,
                )
                for at in received
            ]
            session.add_all(rows)
            await session.flush()
            if waiting:
                session.add_all(
                    StripePendingEvent(webhook_event_id=row.id, stripe_customer_id="cus_w", event_created=0)
                    for row in rows
                )
        return [row.id for row in rows]

    async def tool_calls(self, *created: datetime) -> list[str]:
        async with self.app.state.sessionmaker() as session, session.begin():
            rows = [
                ToolCall(
                    id=_id_at(at, self.next_offset()),
                    team_id=self.owner.team_id,
                    workspace_id=self.owner.workspace_id,
                    tool="github_list_issues",
                    channel="mcp",
                    outcome="ok",
                    duration_ms=3,
                    created_at=at,
                )
                for at in created
            ]
            session.add_all(rows)
        return [row.id for row in rows]


async def ids(app: Any, model: type[Any]) -> set[str]:
    async with app.state.sessionmaker() as session:
        return set(await session.scalars(select(model.id)))


async def count(app: Any, model: type[Any]) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The counts are logged at info level.
    return {"LOG_LEVEL": "INFO"}


@pytest.fixture
def rows(app: Any, owner: Member) -> Rows:
    return Rows(app, owner)


def use_settings(app: Any, **overrides: Any) -> None:
    app.state.settings = make_settings(app.state.settings.DATABASE_URL, **overrides)


class TestWhatGoes:
    async def test_expired_states_and_sessions_go_live_ones_stay(
        self, app: Any, rows: Rows, job_context: MakeContext
    ) -> None:
        now = utcnow()
        _, live_session = await rows.web_sessions(now - timedelta(seconds=1), now + timedelta(hours=1))
        _, live_state = await rows.oauth_states(now - timedelta(minutes=1), now + timedelta(minutes=9))

        with capture_logs() as logs:
            await delete_expired(job_context())

        assert await ids(app, WebSession) == {live_session}
        assert await ids(app, OAuthState) == {live_state}
        [summary] = [entry for entry in logs if entry["event"] == "expired_rows_deleted"]
        assert (summary["web_sessions"], summary["oauth_states"]) == (1, 1)
        assert "tool_calls" not in summary

    async def test_oauth_codes_and_tokens_go_only_after_the_grace_period(
        self, app: Any, rows: Rows, job_context: MakeContext
    ) -> None:
        now = utcnow()
        (_, in_grace_code, live_code), (_, in_grace_token, live_token) = await rows.grants(
            now - 8 * DAY, now - DAY, now + timedelta(minutes=10)
        )
        await delete_expired(job_context())
        assert await ids(app, OAuthAuthorizationCode) == {in_grace_code, live_code}
        assert await ids(app, OAuthToken) == {in_grace_token, live_token}

        use_settings(app, OAUTH_EXPIRED_GRANT_GRACE_SECONDS=0)
        await delete_expired(job_context())
        assert await ids(app, OAuthAuthorizationCode) == {live_code}
        assert await ids(app, OAuthToken) == {live_token}

    async def test_webhook_events_go_after_the_retention_except_those_still_waiting(
        self, app: Any, rows: Rows, job_context: MakeContext
    ) -> None:
        now = utcnow()
        _, recent = await rows.webhook_events(now - 91 * DAY, now - 89 * DAY)
        [old_waiting] = await rows.webhook_events(now - 100 * DAY, waiting=True)

        await delete_expired(job_context())

        assert await ids(app, WebhookEvent) == {recent, old_waiting}
        assert await count(app, StripePendingEvent) == 1

    async def test_the_tool_call_audit_is_kept_unless_a_retention_is_set(
        self, app: Any, rows: Rows, job_context: MakeContext
    ) -> None:
        now = utcnow()
        calls = await rows.tool_calls(now - 400 * DAY, now - 31 * DAY, now - 29 * DAY)
        await delete_expired(job_context())
        assert await ids(app, ToolCall) == set(calls)

        use_settings(app, TOOL_CALL_RETENTION_DAYS=30)
        with capture_logs() as logs:
            await delete_expired(job_context())
        assert await ids(app, ToolCall) == {calls[2]}
        [summary] = [entry for entry in logs if entry["event"] == "expired_rows_deleted"]
        assert summary["tool_calls"] == 2

    async def test_a_second_run_deletes_nothing_more(self, app: Any, rows: Rows, job_context: MakeContext) -> None:
        now = utcnow()
        await rows.web_sessions(now - DAY, now + DAY)
        await rows.oauth_states(now - DAY, now + DAY)
        await rows.grants(now - 30 * DAY, now + DAY)
        await rows.webhook_events(now - 200 * DAY, now)
        await delete_expired(job_context())
        remaining = [await count(app, model) for model in (WebSession, OAuthState, OAuthToken, WebhookEvent)]
        with capture_logs() as logs:
            await delete_expired(job_context())
        assert [await count(app, model) for model in (WebSession, OAuthState, OAuthToken, WebhookEvent)] == remaining
        assert remaining == [1, 1, 1, 1]
        [summary] = [entry for entry in logs if entry["event"] == "expired_rows_deleted"]
        assert set(summary.values()) - {"expired_rows_deleted", "info"} == {0}


async def test_deletes_in_bounded_batches(app: Any, rows: Rows, job_context: MakeContext) -> None:
    use_settings(app, CLEANUP_BATCH_SIZE=2, CLEANUP_MAX_BATCHES_PER_RUN=2)
    now = utcnow()
    expired = [now - timedelta(minutes=minutes) for minutes in range(1, 6)]
    [*_, live] = await rows.web_sessions(*expired, now + DAY)

    with capture_logs() as logs:
        await delete_expired(job_context())
    # Two batches of two: one expired session waits for the next run.
    assert await count(app, WebSession) == 2
    assert [entry["web_sessions"] for entry in logs if entry["event"] == "expired_rows_deleted"] == [4]

    await delete_expired(job_context())
    assert await ids(app, WebSession) == {live}
