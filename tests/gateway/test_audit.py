"""Unknown tools on both channels, the REST form's request validation, and the audit list."""

from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from platform_server.gateway.models import ToolCall
from tests.conftest import Member, row_count
from tests.gateway.conftest import MODES, mcp_client, tool_calls
from tests.gateway.test_transport import leaves, modern_headers, modern_request, url

SECRET = "s3cret-value-never-stored"


async def test_unknown_tool_over_rest_is_404_and_audited(client: httpx.AsyncClient, owner: Member) -> None:
    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_delete_everything",
        json={"repo": SECRET, "force": True},
        headers=owner.headers,
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "UNKNOWN_TOOL"
    assert "github_delete_everything" in error["message"]
    [call] = await tool_calls(client, owner)
    assert call["id"] == error["details"]["toolCallId"]
    assert call["tool"] == "github_delete_everything"
    assert call["outcome"] == "rejected"
    assert call["errorCode"] == "UNKNOWN_TOOL"
    assert call["channel"] == "rest"
    assert call["argumentNames"] == ["force", "repo"]
    assert call["userId"] == owner.user_id
    assert call["apiKeyId"] is not None
    assert call["integrationId"] is None
    assert SECRET not in response.text


async def test_unknown_tool_over_raw_mcp_is_invalid_params(client: httpx.AsyncClient, owner: Member) -> None:
    body = modern_request("tools/call", {"name": "nope_tool", "arguments": {"q": SECRET}})
    response = await client.post(
        url(owner.workspace_id), json=body, headers=modern_headers(owner, "tools/call", "nope_tool")
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32602
    assert "Unknown tool: nope_tool" in error["message"]
    [call] = await tool_calls(client, owner)
    assert (call["tool"], call["outcome"], call["errorCode"], call["channel"]) == (
        "nope_tool",
        "rejected",
        "UNKNOWN_TOOL",
        "mcp",
    )
    assert call["argumentNames"] == ["q"]


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_tool_with_sdk_client_is_invalid_params(
    app: Any, client: httpx.AsyncClient, owner: Member, mode: str
) -> None:
    errors: list[MCPError] = []
    async with mcp_client(app, owner, mode=mode) as session:
        try:
            await session.call_tool("github_nope", {"repo": SECRET})
        except* MCPError as group:
            errors.extend(leaves(group))
    assert [error.error.code for error in errors] == [-32602]
    assert len(await tool_calls(client, owner, tool="github_nope")) == 1


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{not json", 400), (b"[1, 2]", 422), (b'"text"', 422), (b"", 422)],
    ids=["malformed", "array", "string", "empty"],
)
async def test_rest_body_must_be_a_json_object(
    app: Any, client: httpx.AsyncClient, owner: Member, content: bytes, status: int
) -> None:
    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_list_repos",
        content=content,
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert await row_count(app, ToolCall) == 0


async def test_rest_call_needs_auth_and_own_workspace(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    path = f"/api/workspaces/{owner.workspace_id}/tools/github_list_repos"
    assert (await client.post(path, json={})).status_code == 401
    response = await client.post(path, json={}, headers=other_team.headers)
    assert response.status_code == 404
    unknown = "/api/workspaces/1234567890123456789/tools/github_list_repos"
    response = await client.post(unknown, json={}, headers=owner.headers)
    assert response.status_code == 404
    assert await row_count(app, ToolCall) == 0


async def test_tool_call_list_validation_and_tenancy(
    client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    path = f"/api/workspaces/{owner.workspace_id}/tool-calls"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=other_team.headers)).status_code == 404
    assert (await client.get(path, params={"outcome": "maybe"}, headers=owner.headers)).status_code == 422
    assert (await client.get(path, params={"limit": 0}, headers=owner.headers)).status_code == 422
    assert (await client.get(path, params={"limit": 101}, headers=owner.headers)).status_code == 422
    assert (await client.get(path, params={"page": "x"}, headers=owner.headers)).status_code == 422
    response = await client.get("/api/workspaces/1234567890123456789/tool-calls", headers=owner.headers)
    assert response.status_code == 404


async def test_tool_call_list_paginates_and_filters(client: httpx.AsyncClient, owner: Member) -> None:
    for name in ("alpha_tool", "beta_tool", "alpha_tool"):
        await client.post(f"/api/workspaces/{owner.workspace_id}/tools/{name}", json={}, headers=owner.headers)
    response = await client.get(
        f"/api/workspaces/{owner.workspace_id}/tool-calls", params={"limit": 2}, headers=owner.headers
    )
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 3, "total_pages": 2}
    assert [call["tool"] for call in body["data"]] == ["alpha_tool", "beta_tool"]
    assert len(await tool_calls(client, owner, tool="alpha_tool")) == 2
    assert len(await tool_calls(client, owner, outcome="rejected")) == 3
    assert await tool_calls(client, owner, outcome="success") == []
    assert set(body["data"][0]) == {
        "id",
        "workspaceId",
        "integrationId",
        "userId",
        "apiKeyId",
        "oauthClientId",
        "tool",
        "provider",
        "channel",
        "outcome",
        "errorCode",
        "argumentNames",
        "durationMs",
        "createdAt",
    }
