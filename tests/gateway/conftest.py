"""Gateway fixtures: the app in sandbox mode, integrations connected through the real OAuth round trip, and the
official MCP SDK client speaking HTTP to the app (no socket: httpx2's ASGI transport)."""

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import Member
from tests.integrations.helpers import connect

MODES = ("auto", "legacy")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"PLATFORM_SANDBOX": True}


def mcp_url(workspace_id: str) -> str:
    return f"http://testserver/api/workspaces/{workspace_id}/mcp"


@asynccontextmanager
async def mcp_client(
    app: Any, member: Member, workspace_id: str | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """The official SDK client: mode "auto" speaks 2026-07-28 (`server/discover`), "legacy" the 2025 handshake."""
    async with (
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://testserver", headers=member.headers
        ) as http,
        Client(streamable_http_client(mcp_url(workspace_id or member.workspace_id), http_client=http), mode=mode) as c,
    ):
        yield c


Enable = Callable[..., Coroutine[Any, Any, str]]


@pytest.fixture
def enable(client: httpx.AsyncClient) -> Enable:
    """Connects a provider for the member's team (OAuth through the sandbox) and enables tools for a workspace.

    Returns the integration id. `tools=None` enables all of the provider's tools.
    """
    connected: dict[tuple[str, str], str] = {}

    async def factory(
        member: Member,
        provider: str,
        tools: list[str] | None = None,
        *,
        workspace_id: str | None = None,
        default_project: str | None = None,
    ) -> str:
        key = (member.team_id, provider)
        if key not in connected:
            connected[key] = (await connect(client, member, provider)).id
        integration_id = connected[key]
        body: dict[str, Any] = {"integrationId": integration_id}
        if tools is not None:
            body["enabledTools"] = tools
        if default_project is not None:
            body["defaultProject"] = default_project
        response = await client.post(
            f"/api/workspaces/{workspace_id or member.workspace_id}/integrations", json=body, headers=member.headers
        )
        assert response.status_code in (200, 201), response.text
        return integration_id

    return factory


async def tool_calls(
    client: httpx.AsyncClient, member: Member, workspace_id: str | None = None, **filters: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/workspaces/{workspace_id or member.workspace_id}/tool-calls",
        params={"limit": 100, **filters},
        headers=member.headers,
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
