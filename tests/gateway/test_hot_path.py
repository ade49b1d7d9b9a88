"""The gateway answers `tools/list` and `tools/call` itself; what it answers must be what the SDK answers.

A request carrying `Mcp-Session-Id` is left to the SDK (a stateless server has no session to check it
against), so the same request with and without that header compares the two paths byte for byte.
"""

import asyncio
from typing import Any

import httpx
import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from sqlalchemy import text

from tests.conftest import Member
from tests.gateway.conftest import Enable
from tests.gateway.test_transport import ACCEPT, url

VERSIONS = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)


def exchange(
    member: Member, version: str, method: str, params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    headers = {"Accept": ACCEPT, "MCP-Protocol-Version": version, **member.headers}
    if version in MODERN_PROTOCOL_VERSIONS:
        headers["Mcp-Method"] = method
        if "name" in params:
            headers["Mcp-Name"] = params["name"]
        params = {
            **params,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "hot-path-test", "version": "1"},
            },
        }
    return {"jsonrpc": "2.0", "id": "req-7", "method": method, "params": params}, headers


async def both_paths(
    client: httpx.AsyncClient, member: Member, version: str, method: str, params: dict[str, Any]
) -> tuple[httpx.Response, httpx.Response]:
    body, headers = exchange(member, version, method, params)
    hot = await client.post(url(member.workspace_id), json=body, headers=headers)
    sdk = await client.post(url(member.workspace_id), json=body, headers={**headers, "Mcp-Session-Id": "sdk"})
    return hot, sdk


def assert_same(hot: httpx.Response, sdk: httpx.Response) -> dict[str, Any]:
    assert (hot.status_code, hot.headers["content-type"]) == (sdk.status_code, sdk.headers["content-type"])
    assert hot.json() == sdk.json()
    answer: dict[str, Any] = hot.json()
    return answer


@pytest.mark.parametrize("version", VERSIONS)
async def test_hot_path_answers_as_the_sdk_does(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable, version: str
) -> None:
    await enable(owner, "github", ["github_list_issues", "github_create_issue"], default_project="acme/product")
    listing = assert_same(*await both_paths(client, owner, version, "tools/list", {}))
    # The hot path answered the first: it keeps the serialized listing for the next request.
    [cached] = app.state.mcp_gateway.workspaces._entries.values()
    assert list(cached.listings) == [version]
    assert [tool["name"] for tool in listing["result"]["tools"]] == ["github_create_issue", "github_list_issues"]
    assert listing["id"] == "req-7"

    success = assert_same(
        *await both_paths(client, owner, version, "tools/call", {"name": "github_list_issues", "arguments": {}})
    )
    assert success["result"]["isError"] is False
    assert success["result"]["structuredContent"]["repo"] == "acme/product"

    for arguments in ({"state": "sideways"}, {"repo": "acme/does-not-exist"}):
        call = {"name": "github_list_issues", "arguments": arguments}
        failure = assert_same(*await both_paths(client, owner, version, "tools/call", call))
        assert failure["result"]["isError"] is True
        assert "structuredContent" not in failure["result"]

    disabled = {"name": "github_list_repos", "arguments": {}}
    assert_same(*await both_paths(client, owner, version, "tools/call", disabled))


@pytest.mark.parametrize("version", ["2025-11-25", "2026-07-28"])
async def test_what_the_hot_path_leaves_to_the_sdk(
    client: httpx.AsyncClient, owner: Member, enable: Enable, version: str
) -> None:
    await enable(owner, "github", ["github_list_issues"])
    cases = [
        ("tools/call", {"name": "no_such_tool", "arguments": {}}),
        ("tools/call", {"name": "github_list_issues", "arguments": "not an object"}),
        ("tools/call", {"arguments": {}}),
        ("tools/list", {"cursor": "next"}),
    ]
    for method, params in cases:
        hot, sdk = await both_paths(client, owner, version, method, params)
        assert "error" in assert_same(hot, sdk), (method, params)


async def test_a_change_is_listed_at_once(client: httpx.AsyncClient, owner: Member, enable: Enable) -> None:
    integration_id = await enable(owner, "github", ["github_list_issues"])
    body, headers = exchange(owner, "2026-07-28", "tools/list", {})

    async def listed() -> list[str]:
        response = await client.post(url(owner.workspace_id), json=body, headers=headers)
        return [tool["name"] for tool in response.json()["result"]["tools"]]

    assert await listed() == ["github_list_issues"]
    path = f"/api/workspaces/{owner.workspace_id}/integrations/{integration_id}"
    patched = await client.patch(path, json={"enabledTools": ["github_list_repos"]}, headers=owner.headers)
    assert patched.status_code == 200, patched.text
    assert await listed() == ["github_list_repos"]
    assert (await client.delete(path, headers=owner.headers)).status_code == 200
    assert await listed() == []


async def test_another_processs_change_is_listed_within_the_ttl(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_issues"])
    body, headers = exchange(owner, "2026-07-28", "tools/list", {})

    async def listed() -> list[str]:
        response = await client.post(url(owner.workspace_id), json=body, headers=headers)
        return [tool["name"] for tool in response.json()["result"]["tools"]]

    cache = app.state.mcp_gateway.workspaces
    cache.ttl_seconds = 0.2
    assert await listed() == ["github_list_issues"]
    # Plain SQL on a connection of its own: no session of this process sees the write, as with another process.
    async with app.state.engine.begin() as connection:
        await connection.execute(
            text("UPDATE workspace_integrations SET enabled = :off WHERE workspace_id = :id"),
            {"off": False, "id": owner.workspace_id},
        )
    assert await listed() == ["github_list_issues"]
    await asyncio.sleep(0.25)
    assert await listed() == []
