"""The AI assistant is offered a workspace's enabled remote tools beside the native ones (the sandbox model
echoes the tools it was given)."""

from typing import Any

import httpx
import pytest

from tests.conftest import Member
from tests.remote_mcp.federation_helpers import REMOTE_SETTINGS, connect_remote, enable_tools
from tests.remote_mcp.upstreams import NodeUpstream, everything_http  # noqa: F401 (fixture)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(REMOTE_SETTINGS)


async def test_the_assistant_is_offered_enabled_remote_tools(
    client: httpx.AsyncClient,
    owner: Member,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    integration = await connect_remote(client, owner, everything_http.url)
    assert (await enable_tools(client, owner, integration["id"], ["everything__get-sum"])).status_code == 201
    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/ai/messages", json={"message": "hello"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert "everything__get-sum" in response.json()["reply"]
    assert "everything__echo" not in response.json()["reply"]
