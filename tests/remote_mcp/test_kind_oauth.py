"""Remote MCP servers connected with OAuth, end to end against a Python SDK server behind its own authorization
server: create answers `oauthUrl`, the admin's browser approves and comes back through the callback and the
settings page, the tools are read with the new token and called through the workspace endpoint; tokens are
refreshed before expiry (one refresh for concurrent calls) and after a refusal; a revoked grant marks the
integration expired and is reconnected in place; bad callbacks change nothing."""

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from platform_server.integrations.models import Integration, OAuthState
from platform_server.integrations.remote_mcp.models import RemoteMcpServer, RemoteMcpTool
from platform_server.teams.models import Role
from tests.conftest import Member, row_count
from tests.gateway.conftest import mcp_client
from tests.helpers import UNKNOWN_IDS, assert_error
from tests.integrations.helpers import SETTINGS_URL, browser_of, callback, query
from tests.remote_mcp.federation_helpers import REMOTE_SETTINGS, enable_tools, error_code, first_text, remote_tools
from tests.remote_mcp.upstreams import (
    PREREGISTERED_CLIENT_ID,
    PREREGISTERED_SECRET,
    SCOPE,
    ProtectedServer,
    oauth_protected_server,
    python_server,
)

ECHO = "protected__echo"
CALLBACK_URL = "http://testserver/api/integrations/mcp/callback"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(REMOTE_SETTINGS)


@pytest.fixture(scope="module")
def server() -> Iterator[ProtectedServer]:
    # The app is served in-process: the authorization server cannot fetch our metadata document, so the
    # platform registers dynamically.
    with oauth_protected_server(metadata_documents=False) as protected:
        yield protected


@pytest.fixture(scope="module")
def plain() -> Iterator[str]:
    with python_server() as base:
        yield base + "/mcp"


async def _start(client: httpx.AsyncClient, member: Member, server: ProtectedServer, **auth: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/integrations",
        json={"kind": "mcp", "name": "Protected", "url": server.url, "auth": {"type": "oauth", **auth}},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _approve(server: ProtectedServer, oauth_url: str) -> str:
    """The admin's browser at the authorization server; answers the callback URL it is sent back to."""
    code, state = await server.approve(oauth_url)
    return f"{CALLBACK_URL}?{urlencode({'code': code, 'state': state})}"


async def _finish(client: httpx.AsyncClient, member: Member, url: str) -> str:
    async with browser_of(client, member):
        return await callback(client, url)


async def _connect(client: httpx.AsyncClient, owner: Member, server: ProtectedServer) -> str:
    created = await _start(client, owner, server)
    location = await _finish(client, owner, await _approve(server, created["oauthUrl"]))
    assert location == f"{SETTINGS_URL}?success=mcp"
    integration_id: str = created["integration"]["id"]
    return integration_id


async def _integration(app: Any, integration_id: str) -> Integration | None:
    async with app.state.sessionmaker() as session:
        found: Integration | None = await session.get(Integration, integration_id)
    return found


async def _expire_token(app: Any, integration_id: str) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Integration).where(Integration.id == integration_id).values(token_expires_at=Integration.created_at)
        )


async def test_connects_with_oauth_and_calls_a_tool(
    app: Any, client: httpx.AsyncClient, owner: Member, server: ProtectedServer
) -> None:
    issued = set(server.authorization_server.access_tokens)
    created = await _start(client, owner, server)
    pending = created["integration"]
    assert pending["kind"] == "mcp"
    assert pending["status"] == "pending"
    assert pending["remoteServer"]["authType"] == "oauth"
    assert pending["remoteServer"]["toolCount"] == 0
    params = dict(parse_qsl(urlsplit(created["oauthUrl"]).query))
    assert created["oauthUrl"].startswith(server.base_url + "/authorize?")
    assert params["redirect_uri"] == CALLBACK_URL
    assert params["code_challenge_method"] == "S256"
    assert params["resource"] == server.url
    assert SCOPE in params["scope"].split()
    assert params["client_id"] in server.authorization_server.clients  # registered dynamically
    assert await row_count(app, OAuthState) == 1

    location = await _finish(client, owner, await _approve(server, created["oauthUrl"]))
    assert location == f"{SETTINGS_URL}?success=mcp"
    # The token was asked for this server (RFC 8707): the server accepts no other.
    assert server.authorization_server.token_resources[-1] == server.url

    integration_id = pending["id"]
    detail = (await client.get(f"/api/integrations/{integration_id}", headers=owner.headers)).json()
    assert detail["status"] == "connected"
    assert detail["remoteServer"]["serverInfo"]["name"]
    tools = await remote_tools(client, owner, integration_id)
    assert tools["echo"]["status"] == "approved"
    assert tools["echo"]["exposedName"] == ECHO

    # Reading the tools again asks the server with the stored token.
    refreshed = await client.post(f"/api/integrations/{integration_id}/tools/refresh", headers=owner.headers)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["tools"][0]["status"] == "approved"

    enabled = await enable_tools(client, owner, integration_id, [ECHO])
    assert enabled.status_code == 201, enabled.text
    async with mcp_client(app, owner) as session:
        assert [tool.name for tool in (await session.list_tools()).tools] == [ECHO]
        echoed = await session.call_tool(ECHO, {"text": "through OAuth"})
    assert not echoed.is_error
    assert first_text(echoed) == "through OAuth"

    # Stored encrypted, never shown.
    tokens = set(server.authorization_server.access_tokens) - issued
    assert len(tokens) == 1
    stored = await _integration(app, integration_id)
    assert stored is not None
    assert stored.access_token_encrypted is not None
    refresh_token = next(iter(server.authorization_server.refresh_tokens))
    shown = [
        (await client.get("/api/integrations", headers=owner.headers)).text,
        (await client.get(f"/api/integrations/{integration_id}", headers=owner.headers)).text,
        (await client.get(f"/api/integrations/{integration_id}/tools", headers=owner.headers)).text,
        created["oauthUrl"],
    ]
    for secret in (*tokens, refresh_token):
        assert secret not in stored.access_token_encrypted
        assert secret not in (stored.refresh_token_encrypted or "")
        assert all(secret not in text for text in shown)


async def test_preregistered_client_is_used_and_its_secret_kept_encrypted(
    app: Any, client: httpx.AsyncClient, owner: Member, server: ProtectedServer
) -> None:
    created = await _start(
        client, owner, server, clientId=PREREGISTERED_CLIENT_ID, clientSecret=PREREGISTERED_SECRET, scopes=[SCOPE]
    )
    params = dict(parse_qsl(urlsplit(created["oauthUrl"]).query))
    assert params["client_id"] == PREREGISTERED_CLIENT_ID
    assert params["scope"] == SCOPE
    assert created["integration"]["scopes"] == [SCOPE]
    assert PREREGISTERED_SECRET not in str(created)
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(RemoteMcpServer))
    assert row is not None
    assert row.oauth_client_encrypted is not None
    assert PREREGISTERED_SECRET not in row.oauth_client_encrypted
    assert row.secret_encrypted is None


async def test_an_oauth_create_of_a_server_without_authorization_is_refused(
    app: Any, client: httpx.AsyncClient, owner: Member, server: ProtectedServer, plain: str
) -> None:
    response = await client.post(
        "/api/integrations",
        json={"kind": "mcp", "name": "Open", "url": plain, "auth": {"type": "oauth"}},
        headers=owner.headers,
    )
    assert response.status_code == 400, response.text
    assert "without authorization" in response.json()["error"]["message"]
    secret_without_client = await client.post(
        "/api/integrations",
        json={"kind": "mcp", "name": "P", "url": server.url, "auth": {"type": "oauth", "clientSecret": "s"}},
        headers=owner.headers,
    )
    assert secret_without_client.status_code == 422
    assert await row_count(app, Integration) == 0


async def test_an_expired_token_is_refreshed_once_for_concurrent_calls(
    app: Any, client: httpx.AsyncClient, owner: Member, server: ProtectedServer
) -> None:
    integration_id = await _connect(client, owner, server)
    assert (await enable_tools(client, owner, integration_id, [ECHO])).status_code == 201
    before = await _integration(app, integration_id)
    assert before is not None
    await _expire_token(app, integration_id)
    issued = len(server.authorization_server.token_resources)

    async with mcp_client(app, owner) as session:
        results = await asyncio.gather(*(session.call_tool(ECHO, {"text": f"call {n}"}) for n in range(5)))
    assert [first_text(result) for result in results] == [f"call {n}" for n in range(5)]
    # The authorization server rotates refresh tokens: a second refresh would have revoked the grant.
    assert len(server.authorization_server.token_resources) == issued + 1
    after = await _integration(app, integration_id)
    assert after is not None
    assert after.status == "connected"
    assert after.refresh_token_encrypted != before.refresh_token_encrypted
    assert after.token_expires_at is not None
    assert after.token_expires_at > before.created_at


async def test_a_refused_token_is_refreshed_and_the_call_made_again(
    app: Any, client: httpx.AsyncClient, owner: Member, server: ProtectedServer
) -> None:
    integration_id = await _connect(client, owner, server)
    assert (await enable_tools(client, owner, integration_id, [ECHO])).status_code == 201
    # The server forgets the access token (still valid by its expiry): its 401 makes us refresh.
    server.authorization_server.access_tokens.clear()
    issued = len(server.authorization_server.token_resources)
    async with mcp_client(app, owner) as session:
        echoed = await session.call_tool(ECHO, {"text": "again"})
    assert not echoed.is_error
    assert first_text(echoed) == "again"
    assert len(server.authorization_server.token_resources) == issued + 1


async def test_a_revoked_grant_marks_the_integration_expired_and_it_reconnects_in_place(
    app: Any, client: httpx.AsyncClient, owner: Member, server: ProtectedServer
) -> None:
    integration_id = await _connect(client, owner, server)
    assert (await enable_tools(client, owner, integration_id, [ECHO])).status_code == 201
    server.authorization_server.access_tokens.clear()
    server.authorization_server.refresh_tokens.clear()

    async with mcp_client(app, owner) as session:
        refused = await session.call_tool(ECHO, {"text": "x"})
    assert error_code(refused) == "INTEGRATION_EXPIRED"
    assert "reconnect" in first_text(refused)
    expired = await _integration(app, integration_id)
    assert expired is not None
    assert expired.status == "expired"
    assert expired.status_reason is not None
    assert "invalid_grant" in expired.status_reason
    async with mcp_client(app, owner) as session:
        assert (await session.list_tools()).tools == []
        again = await session.call_tool(ECHO, {"text": "x"})
    assert error_code(again) == "INTEGRATION_EXPIRED"

    tools_before = await row_count(app, RemoteMcpTool)
    reconnect = await client.post(f"/api/integrations/{integration_id}/reconnect", headers=owner.headers)
    assert reconnect.status_code == 200, reconnect.text
    assert reconnect.json()["integration"]["id"] == integration_id
    location = await _finish(client, owner, await _approve(server, reconnect.json()["oauthUrl"]))
    assert location == f"{SETTINGS_URL}?success=mcp"
    reconnected = await _integration(app, integration_id)
    assert reconnected is not None
    assert reconnected.status == "connected"
    assert await row_count(app, RemoteMcpTool) == tools_before
    async with mcp_client(app, owner) as session:
        echoed = await session.call_tool(ECHO, {"text": "back"})
    assert first_text(echoed) == "back"


async def test_reconnect_is_only_for_the_teams_servers_connected_with_oauth(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member, server: ProtectedServer, plain: str
) -> None:
    created = await _start(client, owner, server)
    integration_id = created["integration"]["id"]
    opened = await client.post(
        "/api/integrations", json={"kind": "mcp", "name": "Open", "url": plain}, headers=owner.headers
    )
    assert opened.status_code == 201, opened.text
    native = await client.post("/api/integrations", json={"provider": "github"}, headers=owner.headers)
    assert native.status_code == 201, native.text
    states = await row_count(app, OAuthState)
    assert_error(
        await client.post(f"/api/integrations/{integration_id}/reconnect", headers=other_team.headers),
        404,
        "NOT_FOUND",
    )
    # A provider is reconnected by connecting it again: it is no remote server.
    for unknown in (*UNKNOWN_IDS, native.json()["integration"]["id"]):
        assert_error(
            await client.post(f"/api/integrations/{unknown}/reconnect", headers=owner.headers), 404, "NOT_FOUND"
        )
    refused = await client.post(
        f"/api/integrations/{opened.json()['integration']['id']}/reconnect", headers=owner.headers
    )
    assert_error(refused, 409, "CONFLICT")
    assert await row_count(app, OAuthState) == states


@pytest.mark.parametrize("who", ["other_user", "other_team"])
async def test_another_users_browser_cannot_finish_or_burn_the_authorization(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    other_team: Member,
    add_member: Any,
    server: ProtectedServer,
    who: str,
) -> None:
    created = await _start(client, owner, server)
    url = await _approve(server, created["oauthUrl"])
    intruder = other_team if who == "other_team" else await add_member(owner, Role.admin)
    location = await _finish(client, intruder, url)
    assert query(location) == {"error": "wrong_account"}
    stored = await _integration(app, created["integration"]["id"])
    assert stored is not None
    assert stored.status == "pending"
    assert stored.access_token_encrypted is None
    # Still usable by the user who started it.
    assert await _finish(client, owner, url) == f"{SETTINGS_URL}?success=mcp"


async def test_unknown_and_replayed_states_change_nothing(
    app: Any, client: httpx.AsyncClient, owner: Member, server: ProtectedServer
) -> None:
    created = await _start(client, owner, server)
    url = await _approve(server, created["oauthUrl"])
    code = query(url)["code"]
    unknown = await _finish(client, owner, f"{CALLBACK_URL}?{urlencode({'code': code, 'state': 'bogus'})}")
    assert query(unknown) == {"error": "invalid_state"}
    stored = await _integration(app, created["integration"]["id"])
    assert stored is not None
    assert stored.status == "pending"

    assert await _finish(client, owner, url) == f"{SETTINGS_URL}?success=mcp"
    connected = await _integration(app, created["integration"]["id"])
    assert connected is not None
    replayed = await _finish(client, owner, url)
    assert query(replayed) == {"error": "invalid_state"}
    after = await _integration(app, created["integration"]["id"])
    assert after is not None
    assert (after.status, after.access_token_encrypted) == ("connected", connected.access_token_encrypted)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, "invalid_request"),
        ({"code": "not-a-code-it-issued"}, "token_exchange_failed"),
        ({"error": "access_denied"}, "access_denied"),
    ],
)
async def test_a_failed_authorization_connects_nothing(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    server: ProtectedServer,
    params: dict[str, str],
    error: str,
) -> None:
    created = await _start(client, owner, server)
    state = query(await _approve(server, created["oauthUrl"]))["state"]
    location = await _finish(client, owner, f"{CALLBACK_URL}?{urlencode({**params, 'state': state})}")
    assert query(location) == {"error": error}
    # Nothing was connected: the pending integration and its server row are gone.
    assert await _integration(app, created["integration"]["id"]) is None
    assert await row_count(app, RemoteMcpServer) == 0
