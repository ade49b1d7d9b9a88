"""The official TypeScript SDK's OAuth support against a live server, the person approving in Chromium: the
client registers (dynamically, or by naming its Client ID Metadata Document), is approved, lists and calls
tools, refreshes when its access token has run out, and is refused once the person revokes it."""

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import update

from platform_server.db import create_engine, create_sessionmaker, utcnow
from platform_server.oauth_server.models import OAuthToken, TokenKind
from tests.gateway.test_ts_client import PROJECT, _install, _tools
from tests.oauth_server.documents import DocumentHost
from tests.web.conftest import Account, LiveServer
from tests.web.test_browser import connect_github
from tests.web.test_browser import sign_in as sign_in_to_settings
from tests.web.test_mcp_oauth_browser import enable_github, trusted_document_host

pytestmark = pytest.mark.browser


async def _event(node: asyncio.subprocess.Process, name: str) -> dict[str, Any]:
    assert node.stdout is not None
    async with asyncio.timeout(60):
        line = await node.stdout.readline()
    assert line, f"node ended before {name!r}"
    event: dict[str, Any] = json.loads(line)
    assert event["event"] == name, event
    return event


async def _go(node: asyncio.subprocess.Process) -> None:
    assert node.stdin is not None
    node.stdin.write(b"go\n")
    await node.stdin.drain()


async def _expire_access_tokens(live_server: LiveServer) -> None:
    engine = create_engine(live_server.settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                update(OAuthToken)
                .where(OAuthToken.kind == TokenKind.access)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        await engine.dispose()


async def _connect_refresh_and_revoke(
    page: Any, account: Account, live_server: LiveServer, client_name: str, *client_arguments: str
) -> dict[str, Any]:
    """Runs the client through its whole life (approve, call, refresh, be revoked); answers its "connected"
    event: its tools, its client id, and the path of every request it sent until then."""
    node_path, npm = _tools()
    await asyncio.to_thread(_install, npm)
    await sign_in_to_settings(page, account)
    await connect_github(page)
    await enable_github(live_server, account)

    url = f"{live_server.base_url}/api/workspaces/{account.workspace_id}/mcp"
    node = await asyncio.create_subprocess_exec(
        node_path,
        "oauth_client.mjs",
        url,
        *client_arguments,
        cwd=PROJECT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        authorize = await _event(node, "authorize")
        # Signed in already: the consent page comes straight up.
        await page.goto(authorize["url"])
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Authorize {client_name}")
        await expect(page.get_by_test_id("tools")).to_contain_text("github_list_issues")
        await page.get_by_role("button", name="Approve").click()
        await expect(page.locator("body")).to_have_text(re.compile("You can close this window"))

        connected = await _event(node, "connected")
        assert "github_list_issues" in connected["tools"]
        assert connected["call"] == {"isError": False}

        await _expire_access_tokens(live_server)
        await _go(node)
        refreshed = await _event(node, "refreshed")
        assert refreshed["call"] == {"isError": False}
        assert refreshed["accessChanged"] is True
        assert refreshed["refreshChanged"] is True

        await page.goto("/settings/connected-apps")
        await page.get_by_role("button", name=f"Revoke {client_name}").click()
        await expect(page.get_by_test_id("connected-app")).to_have_count(0)
        await _go(node)
        revoked = await _event(node, "revoked")
        # Its access token answers 401, and the refresh it then tries is refused (invalid_grant).
        assert revoked["call"] == {"exception": "The refresh token is invalid"}
    finally:
        if node.returncode is None:
            node.kill()
        await node.wait()
    return connected


async def test_typescript_sdk_connects_by_url_alone(page: Any, account: Account, live_server: LiveServer) -> None:
    connected = await _connect_refresh_and_revoke(page, account, live_server, "TS SDK test agent")
    assert connected["clientId"].startswith("mcp_")
    assert "/oauth/register" in connected["requested"]


@pytest.fixture
def client_documents(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DocumentHost]:
    with trusted_document_host(live_server, tmp_path, monkeypatch) as host:
        yield host


async def test_typescript_sdk_with_a_metadata_document_never_registers(
    page: Any, account: Account, live_server: LiveServer, client_documents: DocumentHost
) -> None:
    """Given `clientMetadataUrl`, the SDK uses it as its client id because the server advertises
    `client_id_metadata_document_supported`. The document registers a port-less loopback redirect URI: the
    client's listener took whatever port was free, which loopback redirects may (RFC 8252 §7.3)."""
    client_id = client_documents.publish_client(
        "/agents/typescript.json", "TS SDK agent by metadata document", ["http://127.0.0.1/callback"]
    )
    connected = await _connect_refresh_and_revoke(
        page, account, live_server, "TS SDK agent by metadata document", client_id
    )
    assert connected["clientId"] == client_id
    assert "/oauth/register" not in connected["requested"]
    assert "/oauth/token" in connected["requested"]
    assert client_documents.fetched == ["/agents/typescript.json"]
