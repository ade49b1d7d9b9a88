"""Requests the remote MCP tests make over and over."""

from typing import Any

import httpx
import mcp_types as mcp

from platform_server.gateway.executor import ERROR_META_KEY
from tests.conftest import Member
from tests.gateway.conftest import mcp_client

# Sandbox on (the native GitHub tool beside the remote ones), upstreams on loopback allowed, tight limits.
REMOTE_SETTINGS: dict[str, Any] = {
    "PLATFORM_SANDBOX": True,
    "REMOTE_MCP_ALLOW_PRIVATE": True,
    "REMOTE_MCP_TIMEOUT_SECONDS": 3,
    "REMOTE_MCP_MAX_RESPONSE_BYTES": 100_000,
}


async def connect_remote(
    client: httpx.AsyncClient, member: Member, url: str, *, name: str = "Everything", **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/integrations", json={"kind": "mcp", "name": name, "url": url, **body}, headers=member.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["oauthUrl"] is None
    integration: dict[str, Any] = created["integration"]
    return integration


async def enable_tools(
    client: httpx.AsyncClient, member: Member, integration_id: str, tools: list[str] | None
) -> httpx.Response:
    body: dict[str, Any] = {"integrationId": integration_id}
    if tools is not None:
        body["enabledTools"] = tools
    return await client.post(f"/api/workspaces/{member.workspace_id}/integrations", json=body, headers=member.headers)


async def remote_tools(client: httpx.AsyncClient, member: Member, integration_id: str) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/api/integrations/{integration_id}/tools", headers=member.headers)
    assert response.status_code == 200, response.text
    return {tool["name"]: tool for tool in response.json()["tools"]}


async def refresh(client: httpx.AsyncClient, member: Member, integration_id: str) -> dict[str, dict[str, Any]]:
    response = await client.post(f"/api/integrations/{integration_id}/tools/refresh", headers=member.headers)
    assert response.status_code == 200, response.text
    return {tool["name"]: tool for tool in response.json()["tools"]}


def error_code(result: mcp.CallToolResult) -> str:
    """The gateway's error code of an isError result."""
    assert result.is_error
    assert result.meta is not None
    return str(result.meta[ERROR_META_KEY]["error"])


def first_text(result: mcp.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, mcp.TextContent)
    return block.text


async def listed(app: Any, member: Member) -> dict[str, mcp.Tool]:
    """The member's workspace's tools as an MCP client lists them, by name."""
    async with mcp_client(app, member) as session:
        return {tool.name: tool for tool in (await session.list_tools()).tools}
