import asyncio
import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update
from structlog.testing import capture_logs

from platform_server.db import utcnow
from platform_server.integrations.models import Integration
from platform_server.integrations.oauth import TokenSet
from platform_server.integrations.providers.client import IntegrationExpired, ProviderUnavailable
from platform_server.integrations.tokens import TokenManager, open_token, seal_tokens
from platform_server.security import DecryptionError, Encryptor
from tests.conftest import TEST_SECRET_KEY, Member
from tests.integrations.helpers import PROVIDERS, callback, connect, decide, start
from tests.web.helpers import sign_in

REFRESH_PATHS = {
    "github": "/login/oauth/access_token",
    "jira": "/oauth/token",
    "linear": "/oauth/token",
    "notion": "/v1/oauth/token",
    "slack": "/api/oauth.v2.access",
    "figma": "/v1/oauth/refresh",
}


def _token_calls(app: Any, provider: str) -> int:
    return int(app.state.sandbox.count(provider, "POST", REFRESH_PATHS[provider]))


async def _row(app: Any, integration_id: str) -> Integration:
    async with app.state.sessionmaker() as session:
        integration: Integration | None = await session.get(Integration, integration_id)
    assert integration is not None
    return integration


async def _expire_soon(app: Any, integration_id: str, delta: timedelta = timedelta(minutes=1)) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Integration).where(Integration.id == integration_id).values(token_expires_at=utcnow() + delta)
        )


async def _connect(app: Any, client: httpx.AsyncClient, owner: Member, provider: str) -> str:
    # An expiring lifetime makes every provider issue refresh tokens (GitHub expiring tokens, Slack rotation).
    app.state.sandbox.faults.token_lifetime_seconds = 3600
    return (await connect(client, owner, provider)).id


def _secret(app: Any, integration: Integration, field: str) -> str | None:
    return open_token(app.state.encryptor, integration, field)


class TestRefresh:
    async def test_fresh_token_is_not_refreshed(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        integration_id = await _connect(app, client, owner, "jira")
        calls = _token_calls(app, "jira")
        token = await app.state.token_manager.access_token(integration_id)
        assert token == _secret(app, await _row(app, integration_id), "access_token")
        assert _token_calls(app, "jira") == calls

    async def test_a_token_another_process_stored_replaces_the_one_opened_here(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "github")
        manager: TokenManager = app.state.token_manager
        first = await manager.access_token(integration_id)
        assert await manager.access_token(integration_id) == first
        # Another process's refresh or reconnect: a new ciphertext on the row, nothing said to this process.
        async with app.state.sessionmaker() as session, session.begin():
            row = await session.get(Integration, integration_id)
            assert row is not None
            seal_tokens(app.state.encryptor, row, TokenSet("gho_stored-elsewhere", None, None, None))
        assert await manager.access_token(integration_id) == "gho_stored-elsewhere"

    @pytest.mark.parametrize("provider", PROVIDERS)
    async def test_refresh_before_expiry_persists_rotation(
        self, app: Any, client: httpx.AsyncClient, owner: Member, provider: str
    ) -> None:
        integration_id = await _connect(app, client, owner, provider)
        before = await _row(app, integration_id)
        await _expire_soon(app, integration_id)
        calls = _token_calls(app, provider)

        token = await app.state.token_manager.access_token(integration_id)

        assert _token_calls(app, provider) == calls + 1
        after = await _row(app, integration_id)
        assert token == _secret(app, after, "access_token") != _secret(app, before, "access_token")
        assert after.status == "connected"
        assert after.token_expires_at is not None
        assert after.token_expires_at > utcnow() + timedelta(minutes=30)
        record, problem = app.state.sandbox.authenticate(provider, token)
        assert problem is None
        assert record is not None
        old_refresh, new_refresh = _secret(app, before, "refresh_token"), _secret(app, after, "refresh_token")
        assert old_refresh is not None
        assert new_refresh is not None
        if provider == "figma":
            # Figma does not rotate: the response has no refresh token, and the old one is kept.
            assert new_refresh == old_refresh
        else:
            assert new_refresh != old_refresh
        # The next refresh uses the persisted token: a stale one would be refused (reuse revokes the grant).
        await _expire_soon(app, integration_id)
        await app.state.token_manager.access_token(integration_id)
        assert (await _row(app, integration_id)).status == "connected"

    async def test_a_slack_refresh_keeps_the_user_token(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "slack")
        user_token = _secret(app, await _row(app, integration_id), "user_token")
        assert user_token is not None
        await _expire_soon(app, integration_id)

        await app.state.token_manager.access_token(integration_id)

        assert _secret(app, await _row(app, integration_id), "user_token") == user_token
        search = await app.state.token_manager.client_for(await _row(app, integration_id)).get(
            "/api/search.messages", params={"query": "launch"}, user_token=True
        )
        assert search.data["ok"] is True

    async def test_a_slack_user_token_refreshes_on_its_own_refresh_token(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "slack")
        before = await _row(app, integration_id)
        assert _secret(app, before, "user_refresh_token") is not None
        assert before.user_token_expires_at is not None
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(
                update(Integration)
                .where(Integration.id == integration_id)
                .values(user_token_expires_at=utcnow() + timedelta(minutes=1))
            )
        calls = _token_calls(app, "slack")

        token = await app.state.token_manager.user_access_token(integration_id)

        assert _token_calls(app, "slack") == calls + 1
        after = await _row(app, integration_id)
        assert token == _secret(app, after, "user_token") != _secret(app, before, "user_token")
        assert _secret(app, after, "user_refresh_token") != _secret(app, before, "user_refresh_token")
        assert after.user_token_expires_at is not None
        assert after.user_token_expires_at > utcnow() + timedelta(minutes=30)
        # The bot token and its refresh token were not touched, nor the integration's (bot) scopes.
        for field in ("access_token", "refresh_token"):
            assert _secret(app, after, field) == _secret(app, before, field)
        assert after.scopes == before.scopes
        record, problem = app.state.sandbox.authenticate("slack", token)
        assert problem is None
        assert record is not None
        assert record.kind == "user"

    async def test_a_refused_slack_user_token_is_refreshed_and_the_call_retried(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "slack")
        integration = await _row(app, integration_id)
        app.state.sandbox.expire_token(_secret(app, integration, "user_token"))
        calls = _token_calls(app, "slack")

        search = await app.state.token_manager.client_for(integration).get(
            "/api/search.messages", params={"query": "launch"}, user_token=True
        )

        assert search.data["ok"] is True
        assert _token_calls(app, "slack") == calls + 1
        after = await _row(app, integration_id)
        assert after.status == "connected"
        assert _secret(app, after, "access_token") == _secret(app, integration, "access_token")

    async def test_refresh_on_401_through_the_provider_client(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "github")
        integration = await _row(app, integration_id)
        app.state.sandbox.expire_token(_secret(app, integration, "access_token"))
        calls = _token_calls(app, "github")

        response = await app.state.token_manager.client_for(integration).get("/user")

        assert response.status_code == 200
        assert response.data["login"] == "acme-corp"
        assert _token_calls(app, "github") == calls + 1

    async def test_401_after_a_successful_refresh_expires(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "linear")
        integration = await _row(app, integration_id)
        # From now on the provider issues tokens that are refused at once: the refresh works, the token doesn't.
        app.state.sandbox.faults.token_lifetime_seconds = 0
        app.state.sandbox.expire_token(_secret(app, integration, "access_token"))
        calls = _token_calls(app, "linear")

        with pytest.raises(IntegrationExpired):
            await app.state.token_manager.client_for(integration).post("/graphql", json={"query": "{ viewer { id } }"})

        assert _token_calls(app, "linear") == calls + 1
        row = await _row(app, integration_id)
        assert row.status == "expired"
        assert "reconnect" in (row.status_reason or "")

    async def test_401_without_refresh_token_expires(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        # Classic GitHub OAuth tokens never expire and come without a refresh token.
        integration_id = (await connect(client, owner, "github")).id
        integration = await _row(app, integration_id)
        assert integration.refresh_token_encrypted is None
        app.state.sandbox.expire_token(_secret(app, integration, "access_token"))
        with pytest.raises(IntegrationExpired):
            await app.state.token_manager.client_for(integration).get("/user")
        assert (await _row(app, integration_id)).status == "expired"

    async def test_concurrent_refreshes_reach_the_provider_once(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "linear")
        await _expire_soon(app, integration_id)
        calls = _token_calls(app, "linear")
        manager: TokenManager = app.state.token_manager
        tokens = await asyncio.gather(*(manager.access_token(integration_id) for _ in range(10)))
        assert len(set(tokens)) == 1
        assert _token_calls(app, "linear") == calls + 1

    async def test_concurrent_refreshes_across_processes(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "jira")
        await _expire_soon(app, integration_id)
        calls = _token_calls(app, "jira")
        state = app.state
        # A second manager has its own in-process locks, as another worker process would.
        other = TokenManager(state.settings, state.sessionmaker, state.encryptor, state.provider_http, state.redis)
        tokens = await asyncio.gather(
            *(manager.access_token(integration_id) for manager in [state.token_manager, other] * 4)
        )
        assert len(set(tokens)) == 1
        assert _token_calls(app, "jira") == calls + 1

    async def test_concurrent_401s_refresh_once(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        integration_id = await _connect(app, client, owner, "jira")
        calls = _token_calls(app, "jira")
        sources = [app.state.token_manager.source(integration_id) for _ in range(5)]
        for source in sources:
            await source.access_token()
        tokens = await asyncio.gather(*(source.refresh_after_unauthorized() for source in sources))
        assert len(set(tokens)) == 1
        assert _token_calls(app, "jira") == calls + 1


class TestFailures:
    async def test_invalid_grant_marks_expired(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        integration_id = await _connect(app, client, owner, "jira")
        integration = await _row(app, integration_id)
        store = app.state.sandbox
        store.revoke_grant(store.refresh_tokens[_secret(app, integration, "refresh_token")].grant)
        await _expire_soon(app, integration_id)

        with pytest.raises(IntegrationExpired):
            await app.state.token_manager.access_token(integration_id)

        row = await _row(app, integration_id)
        assert row.status == "expired"
        assert row.status_reason is not None
        assert "invalid_grant" in row.status_reason
        listed = (await client.get("/api/integrations?status=expired", headers=owner.headers)).json()
        assert [i["id"] for i in listed["integrations"]] == [integration_id]
        calls = _token_calls(app, "jira")
        with pytest.raises(IntegrationExpired):
            await app.state.token_manager.access_token(integration_id)
        assert _token_calls(app, "jira") == calls

    async def test_figma_refusing_token_and_refresh_marks_expired(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "figma")
        integration = await _row(app, integration_id)
        store = app.state.sandbox
        # Figma answers the dead token with 403 and the dead refresh token in its older error form.
        store.revoke_grant(store.refresh_tokens[_secret(app, integration, "refresh_token")].grant)
        calls = _token_calls(app, "figma")

        with pytest.raises(IntegrationExpired):
            await app.state.token_manager.client_for(integration).get("/v1/me")

        assert _token_calls(app, "figma") == calls + 1
        row = await _row(app, integration_id)
        assert row.status == "expired"
        assert "invalid_grant" in (row.status_reason or "")

    async def test_outage_marks_error_then_recovers(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        integration_id = await _connect(app, client, owner, "linear")
        current = _secret(app, await _row(app, integration_id), "access_token")
        await _expire_soon(app, integration_id)
        faults = app.state.sandbox.faults
        faults.error_every, faults.providers = 1, ["linear"]

        # The token has a minute left: it is still handed out while the provider is down.
        assert await app.state.token_manager.access_token(integration_id) == current
        row = await _row(app, integration_id)
        assert row.status == "error"
        assert row.status_reason is not None

        await _expire_soon(app, integration_id, timedelta(minutes=-1))
        with pytest.raises(ProviderUnavailable):
            await app.state.token_manager.access_token(integration_id)

        faults.error_every = 0
        assert await app.state.token_manager.access_token(integration_id) != current
        row = await _row(app, integration_id)
        assert row.status == "connected"
        assert row.status_reason is None


class TestSecrecy:
    async def test_tokens_never_leave_in_responses_or_logs(
        self, app: Any, client: httpx.AsyncClient, owner: Member, caplog: pytest.LogCaptureFixture
    ) -> None:
        bodies: list[str] = []
        await sign_in(client, owner)
        caplog.set_level(logging.DEBUG)
        with capture_logs() as entries:
            app.state.sandbox.faults.token_lifetime_seconds = 3600
            for provider in PROVIDERS:
                authorization = await start(client, owner, provider)
                bodies.append(await callback(client, await decide(client, authorization)))
            denied = await start(client, owner, "github", name="Denied")
            bodies.append(await callback(client, await decide(client, denied, approve=False)))
            # A failed refresh logs a warning about the integration: it must not carry its tokens either.
            faults = app.state.sandbox.faults
            faults.error_every, faults.providers = 1, ["jira"]
            [jira] = (await client.get("/api/integrations?provider=jira", headers=owner.headers)).json()["integrations"]
            await _expire_soon(app, jira["id"])
            await app.state.token_manager.access_token(jira["id"])
            faults.error_every = 0
            listing = await client.get("/api/integrations", headers=owner.headers)
            bodies.append(listing.text)
            for item in listing.json()["integrations"]:
                bodies.append((await client.get(f"/api/integrations/{item['id']}", headers=owner.headers)).text)
                if item["status"] == "connected":
                    await _expire_soon(app, item["id"])
                    await app.state.token_manager.access_token(item["id"])
                    bodies.append((await client.delete(f"/api/integrations/{item['id']}", headers=owner.headers)).text)
        store = app.state.sandbox
        secrets = [*store.access_tokens, *store.refresh_tokens, *store.codes]
        assert len(secrets) > 12
        # The test plays the browser too; its own request lines (URLs with code and state) are not server logs.
        server_records = [
            record.getMessage()
            for record in caplog.records
            if not (record.name == "httpx" and "state=" in record.getMessage())
        ]
        logged = repr(entries) + "\n".join(server_records)
        assert entries, "nothing was logged, so the search below proves nothing"
        for secret in secrets:
            assert secret not in logged
            for body in bodies:
                assert secret not in body

    async def test_tokens_unreadable_without_the_key(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        integration_id = await _connect(app, client, owner, "jira")
        integration = await _row(app, integration_id)
        access = _secret(app, integration, "access_token")
        refresh = _secret(app, integration, "refresh_token")
        assert access is not None
        assert refresh is not None
        async with app.state.sessionmaker() as session:
            raw = (await session.execute(text("SELECT * FROM integrations"))).all()
        assert access not in repr(raw)
        assert refresh not in repr(raw)
        with pytest.raises(DecryptionError):
            open_token(Encryptor(["another-key-entirely-0123456789abcdef"]), integration, "access_token")
        # Bound to its row: the same ciphertext does not open as another integration's token.
        integration.id = "1"
        with pytest.raises(DecryptionError):
            open_token(app.state.encryptor, integration, "access_token")

    async def test_rotated_key_still_decrypts(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        integration_id = await _connect(app, client, owner, "jira")
        integration = await _row(app, integration_id)
        rotated = Encryptor(["a-brand-new-key-0123456789abcdefghijkl", TEST_SECRET_KEY])
        assert open_token(rotated, integration, "access_token") == _secret(app, integration, "access_token")
        assert rotated.current_key_id != integration.token_key_id
