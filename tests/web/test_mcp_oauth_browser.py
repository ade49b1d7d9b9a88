"""An MCP client connects by URL alone: the official Python SDK's OAuth provider discovers the authorization
server, registers (dynamically, or by naming its Client ID Metadata Document), and sends the person to the
authorization URL, where Chromium signs in and approves; the client then lists and calls tools, refreshes, and
is refused once the person revokes it."""

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from playwright.async_api import expect

from tests.oauth_server.documents import DocumentHost, document_host
from tests.web.conftest import Account, LiveServer, screenshot
from tests.web.test_browser import connect_github
from tests.web.test_browser import sign_in as sign_in_to_settings

pytestmark = pytest.mark.browser

CALLBACK = "http://127.0.0.1:43127/callback"


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class BrowserPerson:
    """The person at the browser: opens the authorization URL, signs in, approves (or denies), and hands the
    redirect back to the client as its loopback listener would."""

    def __init__(self, page: Any, account: Account, *, approve: bool = True, grants: tuple[str, ...] = ()) -> None:
        self.page = page
        self.account = account
        self.approve = approve
        # The access chosen on each consent page in turn ("read" or "all"); the default choice once used up.
        self.grants = list(grants)
        self.consents = 0
        self.callback_url: str | None = None
        self.called_back = asyncio.Event()
        self.consent_text = ""
        self.refused: str | None = None

    async def open(self, authorization_url: str) -> None:
        self.callback_url = None
        self.called_back.clear()

        async def capture(route: Any) -> None:
            self.callback_url = route.request.url
            self.called_back.set()
            await route.fulfill(status=200, body="You can close this window.")

        await self.page.route(re.compile(r"^http://127\.0\.0\.1:43127/"), capture)
        await self.page.goto(authorization_url)
        if "/settings/sign-in" in self.page.url:
            await self.page.get_by_label("API key").fill(self.account.api_key)
            await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Authorize "))
        self.consent_text = await self.page.locator("main").inner_text()
        await screenshot(self.page, "mcp-consent")
        self.consents += 1
        if self.grants:
            await self.page.get_by_label(
                "Read-only tools only" if self.grants.pop(0) == "read" else "All enabled tools", exact=False
            ).check()
        await self.page.get_by_role("button", name="Approve" if self.approve else "Deny").click()
        async with asyncio.timeout(15):
            await self.called_back.wait()

    async def callback(self) -> AuthorizationCodeResult:
        assert self.callback_url is not None
        params = {name: values[0] for name, values in parse_qs(urlsplit(self.callback_url).query).items()}
        if "error" in params:
            self.refused = params["error"]
            raise RuntimeError(f"authorization refused: {params['error']}")
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))


def provider(
    live_server: LiveServer,
    account: Account,
    person: BrowserPerson,
    storage: MemoryStorage,
    client_metadata_url: str | None = None,
) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        client_name="SDK test agent",
        redirect_uris=[CALLBACK],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        f"{live_server.base_url}/api/workspaces/{account.workspace_id}/mcp",
        metadata,
        storage,
        redirect_handler=person.open,
        callback_handler=person.callback,
        client_metadata_url=client_metadata_url,
    )


async def enable_github(live_server: LiveServer, account: Account) -> None:
    async with httpx.AsyncClient(
        base_url=live_server.base_url, headers={"Authorization": f"Bearer {account.api_key}"}
    ) as api:
        [integration] = (await api.get("/api/integrations")).json()["integrations"]
        response = await api.post(
            f"/api/workspaces/{account.workspace_id}/integrations",
            json={"integrationId": integration["id"], "defaultProject": "acme/product"},
        )
        assert response.status_code in (200, 201), response.text


async def _connect_refresh_and_revoke(
    page: Any, account: Account, live_server: LiveServer, client_name: str, client_metadata_url: str | None = None
) -> tuple[MemoryStorage, list[str]]:
    """The whole life of one connection: sign in and approve, list and call tools, refresh, be revoked. Answers
    the client's storage and the paths of every request it sent."""
    await sign_in_to_settings(page, account)
    await connect_github(page)
    await enable_github(live_server, account)
    await page.get_by_role("button", name="Sign out").click()

    person = BrowserPerson(page, account)
    storage = MemoryStorage()
    auth = provider(live_server, account, person, storage, client_metadata_url)
    url = f"{live_server.base_url}/api/workspaces/{account.workspace_id}/mcp"
    requested: list[str] = []

    async def record(request: httpx2.Request) -> None:
        requested.append(request.url.path)

    async with (
        httpx2.AsyncClient(auth=auth, timeout=30, event_hooks={"request": [record]}) as http,
        Client(streamable_http_client(url, http_client=http)) as mcp,
    ):
        tools = [tool.name for tool in (await mcp.list_tools()).tools]
        assert "github_list_issues" in tools
        assert client_name in person.consent_text
        assert "Product" in person.consent_text
        assert "github_list_issues" in person.consent_text
        result = await mcp.call_tool("github_list_issues", {})
        assert not result.is_error, result

        # The access token runs out: the provider refreshes it (rotating the refresh token) and carries on.
        assert storage.tokens is not None
        first = storage.tokens
        auth.context.token_expiry_time = time.time() - 1
        assert not (await mcp.call_tool("github_list_issues", {})).is_error
        assert storage.tokens.access_token != first.access_token
        assert storage.tokens.refresh_token != first.refresh_token

    # The person revokes the app on the settings page: its tokens stop working at once.
    await page.goto("/settings/connected-apps")
    app = page.get_by_test_id("connected-app")
    await expect(app).to_have_count(1)
    await expect(app.get_by_test_id("workspace")).to_have_text("Product")
    await expect(app.get_by_test_id("last-used")).not_to_have_text("Never")
    await screenshot(page, "connected-apps")
    await app.get_by_role("button", name=f"Revoke {client_name}").click()
    await expect(page.get_by_role("status").first).to_contain_text("disconnected")
    await expect(page.get_by_test_id("connected-app")).to_have_count(0)
    assert storage.client_info is not None
    async with httpx.AsyncClient() as raw:
        refused = await raw.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Authorization": f"Bearer {storage.tokens.access_token}",
                "Accept": "application/json, text/event-stream",
            },
        )
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        refresh = await raw.post(
            f"{live_server.base_url}/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": storage.tokens.refresh_token or "",
                "client_id": storage.client_info.client_id,
            },
        )
        assert refresh.json()["error"] == "invalid_grant"
    return storage, requested


async def test_sdk_client_connects_by_url_alone(page: Any, account: Account, live_server: LiveServer) -> None:
    storage, requested = await _connect_refresh_and_revoke(page, account, live_server, "SDK test agent")
    assert storage.client_info is not None
    assert storage.client_info.client_id.startswith("mcp_")
    assert "/oauth/register" in requested


@contextmanager
def trusted_document_host(
    live_server: LiveServer, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DocumentHost]:
    """Where the clients publish their metadata documents: https on loopback, with a certificate from a CA of
    the test's own, which the live server is told to trust (and, loopback being private, to fetch from)."""
    with document_host(directory) as host:
        monkeypatch.setattr(live_server.settings, "OAUTH_CLIENT_METADATA_ALLOW_PRIVATE", True)
        monkeypatch.setattr(live_server.settings, "OAUTH_CLIENT_METADATA_CA_FILE", host.ca_file)
        yield host


@pytest.fixture
def client_documents(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DocumentHost]:
    with trusted_document_host(live_server, tmp_path, monkeypatch) as host:
        yield host


async def test_sdk_client_with_a_metadata_document_never_registers(
    page: Any, account: Account, live_server: LiveServer, client_documents: DocumentHost
) -> None:
    """The server advertises `client_id_metadata_document_supported`, so the SDK sends its document's https URL
    as the client id; the server fetches the document (its name is what the consent page shows) and the SDK
    never calls the registration endpoint."""
    client_id = client_documents.publish_client("/agents/sdk.json", "SDK agent by metadata document", [CALLBACK])
    storage, requested = await _connect_refresh_and_revoke(
        page, account, live_server, "SDK agent by metadata document", client_metadata_url=client_id
    )
    assert storage.client_info is not None
    assert storage.client_info.client_id == client_id
    assert "/oauth/register" not in requested
    assert "/oauth/token" in requested
    # Fetched once, at the authorization request; the token requests used the cached client.
    assert client_documents.fetched == ["/agents/sdk.json"]


async def test_denied_consent_gives_the_client_nothing(page: Any, account: Account, live_server: LiveServer) -> None:
    person = BrowserPerson(page, account, approve=False)
    storage = MemoryStorage()
    auth = provider(live_server, account, person, storage)
    url = f"{live_server.base_url}/api/workspaces/{account.workspace_id}/mcp"
    with pytest.raises(BaseExceptionGroup):  # the SDK client wraps the refusal in its task groups
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as mcp,
        ):
            await mcp.list_tools()
    assert person.refused == "access_denied"
    assert storage.tokens is None


async def test_read_only_grant_steps_up_when_a_tool_changes_data(
    page: Any, account: Account, live_server: LiveServer
) -> None:
    """The person grants read-only access; the client's first writing call gets 403 insufficient_scope, the SDK
    asks again for the wider scope, the person approves it, and the call goes through."""
    await sign_in_to_settings(page, account)
    await connect_github(page)
    await enable_github(live_server, account)
    person = BrowserPerson(page, account, grants=("read", "all"))
    storage = MemoryStorage()
    auth = provider(live_server, account, person, storage)
    url = f"{live_server.base_url}/api/workspaces/{account.workspace_id}/mcp"
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as mcp,
    ):
        assert not (await mcp.call_tool("github_list_issues", {})).is_error
        assert storage.tokens is not None
        assert storage.tokens.scope == "tools:read"
        assert person.consents == 1
        created = await mcp.call_tool("github_create_issue", {"title": "Stepped up"})
        assert not created.is_error, created
        assert person.consents == 2
        assert storage.tokens.scope == "tools:read tools:write"
