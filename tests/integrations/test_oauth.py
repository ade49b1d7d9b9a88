from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from platform_server.db import utcnow
from platform_server.integrations.models import Integration, OAuthState
from platform_server.security import Encryptor
from tests.conftest import Member, row_count
from tests.integrations.helpers import PROVIDERS, SETTINGS_URL, callback, connect, decide, query, start
from tests.web.helpers import sign_in


@pytest.fixture(autouse=True)
async def owners_browser(client: httpx.AsyncClient, owner: Member) -> None:
    """The client is also the owner's browser, signed in: the owner starts every flow here and finishes it."""
    await sign_in(client, owner)


async def _integration(app: Any, integration_id: str) -> Integration | None:
    async with app.state.sessionmaker() as session:
        integration: Integration | None = await session.get(Integration, integration_id)
    return integration


async def _listing(client: httpx.AsyncClient, member: Member) -> list[dict[str, Any]]:
    response = await client.get("/api/integrations", headers=member.headers)
    assert response.status_code == 200
    return list(response.json()["integrations"])


class TestRoundTrip:
    @pytest.mark.parametrize("provider", PROVIDERS)
    async def test_approve_connects(self, app: Any, client: httpx.AsyncClient, owner: Member, provider: str) -> None:
        authorization = await start(client, owner, provider)
        assert authorization.integration["status"] == "pending"
        params = authorization.params
        assert params["client_id"] == f"sandbox-{provider}"
        assert params["redirect_uri"] == "http://testserver/api/integrations/oauth/callback"
        assert len(params["state"]) >= 43
        assert ("code_challenge" in params) == (provider in ("github", "linear"))

        location = await callback(client, await decide(client, authorization, login="acme-corp"))
        assert location == f"{SETTINGS_URL}?success={provider}"
        [listed] = await _listing(client, owner)
        assert listed["id"] == authorization.id
        assert listed["status"] == "connected"
        assert listed["providerAccountName"]
        row = await _integration(app, authorization.id)
        assert row is not None
        assert row.access_token_encrypted is not None
        assert row.access_token_encrypted.startswith(f"v1.{app.state.encryptor.current_key_id}.")
        assert row.token_key_id == app.state.encryptor.current_key_id

    async def test_scopes_follow_provider_rules(self, client: httpx.AsyncClient, owner: Member) -> None:
        slack = await start(client, owner, "slack")
        assert slack.params["scope"] == "channels:read,groups:read,chat:write"
        assert slack.params["user_scope"] == "search:read"
        jira = await start(client, owner, "jira", scopes=["read:jira-work", "offline_access"])
        assert jira.params["scope"] == "read:jira-work offline_access"
        assert jira.params["audience"] == "api.atlassian.com"
        assert jira.params["prompt"] == "consent"
        notion = await start(client, owner, "notion")
        assert notion.params["owner"] == "user"
        assert "scope" not in notion.params

    async def test_deny_removes_the_pending_integration(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        authorization = await start(client, owner, "github")
        location = await callback(client, await decide(client, authorization, approve=False))
        assert query(location) == {"error": "access_denied"}
        # Nothing was connected, so nothing is left behind: no "Error" integration beside the banner.
        assert await _integration(app, authorization.id) is None
        assert await _listing(client, owner) == []
        assert await row_count(app, OAuthState) == 0


class TestStateChecks:
    async def test_expired_state_changes_nothing(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        authorization = await start(client, owner, "github")
        url = await decide(client, authorization)
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(OAuthState).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert query(await callback(client, url)) == {"error": "invalid_state"}
        row = await _integration(app, authorization.id)
        assert row is not None
        assert row.status == "pending"

    async def test_reused_state_changes_nothing(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        authorization = await start(client, owner, "jira")
        url = await decide(client, authorization)
        assert query(await callback(client, url)) == {"success": "jira"}
        before = await _integration(app, authorization.id)
        assert query(await callback(client, url)) == {"error": "invalid_state"}
        after = await _integration(app, authorization.id)
        assert before is not None
        assert after is not None
        assert after.status == "connected"
        assert after.access_token_encrypted == before.access_token_encrypted

    @pytest.mark.parametrize(
        "mangle",
        [
            pytest.param(lambda s: s + "x", id="appended"),
            pytest.param(lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), id="altered"),
            pytest.param(lambda s: "", id="empty"),
            pytest.param(lambda s: "x" * 5000, id="huge"),
        ],
    )
    async def test_tampered_state_changes_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, mangle: Any
    ) -> None:
        authorization = await start(client, owner, "github")
        url = await decide(client, authorization)
        params = query(url)
        tampered = httpx.URL("http://testserver/api/integrations/oauth/callback").copy_with(
            params={"code": params["code"], "state": mangle(params["state"])}
        )
        assert query(await callback(client, str(tampered))) == {"error": "invalid_state"}
        row = await _integration(app, authorization.id)
        assert row is not None
        assert row.status == "pending"
        # The genuine state still works afterwards: a forged one did not burn it.
        assert query(await callback(client, url)) == {"success": "github"}

    async def test_missing_parameters(self, client: httpx.AsyncClient) -> None:
        for params in ({}, {"code": "abc"}, {"error": "access_denied"}):
            url = httpx.URL("http://testserver/api/integrations/oauth/callback").copy_with(params=params)
            assert await callback(client, str(url)) == f"{SETTINGS_URL}?error=invalid_state"

    async def test_state_is_stored_hashed(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        authorization = await start(client, owner, "linear")
        async with app.state.sessionmaker() as session:
            [stored] = (await session.scalars(select(OAuthState))).all()
        state, verifier_challenge = authorization.params["state"], authorization.params["code_challenge"]
        assert stored.state_hash != state
        assert state not in stored.state_hash
        assert stored.code_verifier_encrypted is not None
        assert verifier_challenge not in stored.code_verifier_encrypted
        assert stored.expires_at - stored.created_at == timedelta(minutes=10)

    @pytest.mark.parametrize("provider", ["github", "linear"])
    async def test_wrong_pkce_verifier_fails(
        self, app: Any, client: httpx.AsyncClient, owner: Member, provider: str
    ) -> None:
        authorization = await start(client, owner, provider)
        url = await decide(client, authorization)
        encryptor: Encryptor = app.state.encryptor
        async with app.state.sessionmaker() as session, session.begin():
            stored = (await session.scalars(select(OAuthState))).one()
            stored.code_verifier_encrypted = encryptor.encrypt(
                "w" * 64, f"oauth_states:{stored.state_hash}:code_verifier"
            )
        location = await callback(client, url)
        assert "error" in query(location)
        assert "success" not in query(location)
        assert await _integration(app, authorization.id) is None


class TestReconnect:
    async def test_same_account_updates_in_place(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        first = await connect(client, owner, "github", login="acme-corp")
        before = await _integration(app, first.id)
        second = await start(client, owner, "github")
        assert second.integration["name"] == "GitHub 2"
        assert query(await callback(client, await decide(client, second, login="acme-corp"))) == {"success": "github"}
        [listed] = await _listing(client, owner)
        assert listed["id"] == first.id
        assert listed["name"] == "GitHub"
        after = await _integration(app, first.id)
        assert before is not None
        assert after is not None
        assert after.access_token_encrypted != before.access_token_encrypted
        assert await _integration(app, second.id) is None
        async with app.state.sessionmaker() as session:
            states = (await session.scalars(select(OAuthState))).all()
        assert [state.integration_id for state in states] == [first.id]

    async def test_other_account_is_a_second_integration(self, client: httpx.AsyncClient, owner: Member) -> None:
        await connect(client, owner, "github", login="acme-corp")
        await connect(client, owner, "github", login="globex-corp", name="GitHub Globex")
        listed = await _listing(client, owner)
        assert sorted(i["providerAccountName"] for i in listed) == ["acme-corp", "globex-corp"]
