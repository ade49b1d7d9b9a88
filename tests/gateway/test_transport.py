"""Transport rules of the MCP endpoint, checked with raw HTTP: auth, RFC 9728 metadata, headers, methods, sizes."""

import json
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.conftest import Member
from tests.gateway.conftest import MODES, mcp_client

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1"},
}


def modern_request(method: str, params: dict[str, Any] | None = None, request_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {}), "_meta": MODERN_META}}


def modern_headers(member: Member | None, method: str, name: str | None = None) -> dict[str, str]:
    headers = {"Accept": ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    if member is not None:
        headers.update(member.headers)
    return headers


def leaves(group: BaseExceptionGroup[MCPError]) -> list[MCPError]:
    found: list[MCPError] = []
    for error in group.exceptions:
        found.extend(leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    return found


def url(workspace_id: str) -> str:
    return f"/api/workspaces/{workspace_id}/mcp"


async def test_discover_and_list_over_raw_http(client: httpx.AsyncClient, owner: Member) -> None:
    headers = modern_headers(owner, "server/discover")
    response = await client.post(url(owner.workspace_id), json=modern_request("server/discover"), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in response.headers
    result = response.json()["result"]
    assert MODERN in result["supportedVersions"]
    assert "tools" in result["capabilities"]

    response = await client.post(
        url(owner.workspace_id), json=modern_request("tools/list"), headers=modern_headers(owner, "tools/list")
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["tools"] == []
    assert result["cacheScope"] == "private"
    assert result["ttlMs"] == 0
    assert result["resultType"] == "complete"


async def test_legacy_initialize_is_stateless(client: httpx.AsyncClient, owner: Member) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
    }
    response = await client.post(url(owner.workspace_id), json=body, headers={"Accept": ACCEPT, **owner.headers})
    assert response.status_code == 200, response.text
    assert "mcp-session-id" not in response.headers
    result = response.json()["result"]
    assert result["protocolVersion"] == LEGACY
    assert result["serverInfo"]["name"] == "platform-gateway"
    # Any later request stands alone: no session to present, so any server process can answer it.
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    headers = {"Accept": ACCEPT, "MCP-Protocol-Version": LEGACY, **owner.headers}
    response = await client.post(url(owner.workspace_id), json=listing, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["tools"] == []


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer plat_not-a-real-key", "Basic dXNlcjpwYXNz", "Bearer"],
    ids=["missing", "unknown", "basic", "empty"],
)
async def test_unauthenticated_gets_401_with_resource_metadata(
    client: httpx.AsyncClient, owner: Member, authorization: str | None
) -> None:
    headers = modern_headers(None, "tools/list")
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.post(url(owner.workspace_id), json=modern_request("tools/list"), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    metadata_url = f"http://testserver/.well-known/oauth-protected-resource/api/workspaces/{owner.workspace_id}/mcp"
    assert response.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{metadata_url}", scope="tools:read tools:write"'
    )

    metadata = await client.get(metadata_url)
    assert metadata.status_code == 200
    document = metadata.json()
    assert document["resource"] == f"http://testserver/api/workspaces/{owner.workspace_id}/mcp"
    assert document["bearer_methods_supported"] == ["header"]
    assert document["authorization_servers"] == ["http://testserver"]
    assert document["scopes_supported"] == ["tools:read", "tools:write"]
    # The authorization server it names exists.
    server = await client.get("/.well-known/oauth-authorization-server")
    assert server.status_code == 200
    assert server.json()["issuer"] == "http://testserver"


async def test_metadata_for_malformed_workspace_id_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-protected-resource/api/workspaces/not-an-id/mcp")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("workspace", ["other", "unknown", "malformed"])
async def test_workspace_of_another_team_or_unknown_is_404(
    client: httpx.AsyncClient, owner: Member, other_team: Member, workspace: str
) -> None:
    workspace_id = {"other": other_team.workspace_id, "unknown": "1234567890123456789", "malformed": "abc"}[workspace]
    response = await client.post(
        url(workspace_id), json=modern_request("tools/list"), headers=modern_headers(owner, "tools/list")
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_other_teams_key_cannot_use_the_sdk_client(app: Any, owner: Member, other_team: Member) -> None:
    for mode in MODES:
        refused: list[MCPError] = []
        try:
            async with mcp_client(app, other_team, owner.workspace_id, mode=mode) as session:
                await session.list_tools()
        except* MCPError as group:
            refused.extend(leaves(group))
        assert refused, mode
        assert refused[0].error.message == "Not Found"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(client: httpx.AsyncClient, owner: Member, method: str) -> None:
    headers = {"Accept": "text/event-stream", **owner.headers}
    response = await client.request(method, url(owner.workspace_id), headers=headers)
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_foreign_origin_is_403_and_foreign_host_is_421(client: httpx.AsyncClient, owner: Member) -> None:
    headers = {**modern_headers(owner, "tools/list"), "Origin": "https://evil.example"}
    response = await client.post(url(owner.workspace_id), json=modern_request("tools/list"), headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"

    headers = {**modern_headers(owner, "tools/list"), "Host": "rebound.example"}
    response = await client.post(url(owner.workspace_id), json=modern_request("tools/list"), headers=headers)
    assert response.status_code == 421
    assert response.json()["error"]["code"] == "MISDIRECTED_REQUEST"

    headers = {**modern_headers(owner, "tools/list"), "Origin": "http://testserver"}
    response = await client.post(url(owner.workspace_id), json=modern_request("tools/list"), headers=headers)
    assert response.status_code == 200


async def test_transport_header_rules(client: httpx.AsyncClient, owner: Member) -> None:
    body = modern_request("tools/list")
    # Accept must allow JSON.
    headers = {**modern_headers(owner, "tools/list"), "Accept": "text/html"}
    response = await client.post(url(owner.workspace_id), json=body, headers=headers)
    assert response.status_code == 406
    # Mcp-Method must match the body's method.
    response = await client.post(url(owner.workspace_id), json=body, headers=modern_headers(owner, "tools/call"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32020
    # An unsupported protocol version is refused.
    headers = {**modern_headers(owner, "tools/list"), "MCP-Protocol-Version": "1999-01-01"}
    response = await client.post(url(owner.workspace_id), json=body, headers=headers)
    assert response.status_code == 400


def generation_headers(member: Member, generation: str, method: str) -> dict[str, str]:
    if generation == "modern":
        return modern_headers(member, method)
    return {"Accept": ACCEPT, "MCP-Protocol-Version": LEGACY, **member.headers}


def generation_request(generation: str, method: str) -> dict[str, Any]:
    if generation == "modern":
        return modern_request(method)
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}


@pytest.mark.parametrize("generation", ["modern", "legacy"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_wrong_content_type_is_a_jsonrpc_error(
    client: httpx.AsyncClient, owner: Member, generation: str, content_type: str | None
) -> None:
    headers = generation_headers(owner, generation, "tools/list")
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = json.dumps(generation_request(generation, "tools/list")).encode()
    response = await client.post(url(owner.workspace_id), content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["jsonrpc"] == "2.0"
    assert answer["id"] is None
    assert answer["error"]["code"] == -32600
    assert "Content-Type must be application/json" in answer["error"]["message"]


INVALID_ENVELOPES = {
    "no method": {"jsonrpc": "2.0", "id": 1},
    "wrong version": {"jsonrpc": "1.0", "id": 1, "method": "tools/list"},
    "method not a string": {"jsonrpc": "2.0", "id": 1, "method": 7},
    "id an object": {"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"},
    "params a string": {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": "all"},
    "a bare value": 42,
    "a batch": [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}],
}


@pytest.mark.parametrize("generation", ["modern", "legacy"])
@pytest.mark.parametrize("envelope", sorted(INVALID_ENVELOPES))
async def test_invalid_envelope_is_invalid_request(
    client: httpx.AsyncClient, owner: Member, generation: str, envelope: str
) -> None:
    headers = generation_headers(owner, generation, "tools/list")
    response = await client.post(url(owner.workspace_id), json=INVALID_ENVELOPES[envelope], headers=headers)
    assert response.status_code == 400
    answer = response.json()
    assert answer["id"] is None
    assert answer["error"]["code"] == -32600
    # The reason, not a dump of the validator's internals.
    assert "validation error" not in answer["error"]["message"].lower()
    assert "pydantic" not in response.text


async def test_malformed_json_and_batches(client: httpx.AsyncClient, owner: Member) -> None:
    headers = {**modern_headers(owner, "tools/list"), "Content-Type": "application/json"}
    response = await client.post(url(owner.workspace_id), content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
    response = await client.post(url(owner.workspace_id), json=[modern_request("tools/list")], headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600


async def test_unknown_method_is_method_not_found(client: httpx.AsyncClient, owner: Member) -> None:
    body = modern_request("prompts/list")
    response = await client.post(url(owner.workspace_id), json=body, headers=modern_headers(owner, "prompts/list"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32601


async def test_oversized_body_is_413(client: httpx.AsyncClient, owner: Member, settings: Any) -> None:
    arguments = {"channel": "C0", "text": "x" * settings.MAX_BODY_BYTES}
    body = modern_request("tools/call", {"name": "slack_send_message", "arguments": arguments})
    response = await client.post(
        url(owner.workspace_id), json=body, headers=modern_headers(owner, "tools/call", "slack_send_message")
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_notification_is_accepted_without_body(client: httpx.AsyncClient, owner: Member) -> None:
    body = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    headers = {"Accept": ACCEPT, "MCP-Protocol-Version": LEGACY, **owner.headers}
    response = await client.post(url(owner.workspace_id), json=body, headers=headers)
    assert response.status_code == 202
    assert response.content == b""
