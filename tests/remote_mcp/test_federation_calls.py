"""Remote tools through the workspace's MCP endpoint (the official MCP client), next to a native GitHub tool:
listed as `<slug>__<tool>` with their schemas, results passed through unchanged, failures as readable isError
results, audited, rate limited, and invisible to other teams."""

import asyncio
from typing import Any

import httpx
import mcp_types as mcp
import pytest
from mcp.shared.exceptions import MCPError

from platform_server.integrations.remote_mcp.upstream import Transport
from tests.conftest import Member
from tests.gateway.conftest import MODES, Enable, enable, mcp_client, tool_calls  # noqa: F401 (fixture)
from tests.remote_mcp.federation_helpers import REMOTE_SETTINGS, connect_remote, enable_tools, error_code, first_text
from tests.remote_mcp.upstreams import (  # noqa: F401 (fixtures)
    MutableUpstream,
    NodeUpstream,
    _mutable_server,
    everything_http,
    everything_process,
    everything_sse,
    mutable,
)

SUM = "everything__get-sum"
STRUCTURED = "everything__get-structured-content"
IMAGE = "everything__get-tiny-image"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(REMOTE_SETTINGS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_remote_tools_beside_a_native_one(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    enable: Enable,  # noqa: F811
    everything_http: NodeUpstream,  # noqa: F811
    everything_sse: NodeUpstream,  # noqa: F811
    transport: str,
    mode: str,
) -> None:
    upstream = everything_sse if transport == "sse" else everything_http
    integration = await connect_remote(client, owner, upstream.url, transport=transport)
    enabled = await enable_tools(client, owner, integration["id"], [SUM, STRUCTURED, IMAGE])
    assert enabled.status_code == 201, enabled.text
    await enable(owner, "github", ["github_list_repos"])

    async with mcp_client(app, owner, mode=mode) as session:
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(listed) == {"github_list_repos", SUM, STRUCTURED, IMAGE}
        assert listed[SUM].input_schema["properties"].keys() == {"a", "b"}
        assert listed[STRUCTURED].output_schema is not None

        summed = await session.call_tool(SUM, {"a": 2, "b": 3})
        assert not summed.is_error
        assert first_text(summed) == "The sum of 2 and 3 is 5."

        structured = await session.call_tool(STRUCTURED, {"location": "Chicago"})
        assert not structured.is_error
        assert structured.structured_content is not None
        assert set(structured.structured_content) == {"temperature", "conditions", "humidity"}

        image = await session.call_tool(IMAGE, {})
        assert any(isinstance(block, mcp.ImageContent) and block.mime_type == "image/png" for block in image.content)

        # The upstream's own error result comes back as it answered it.
        failed = await session.call_tool(SUM, {"a": "two"})
        assert failed.is_error
        assert "Invalid arguments for tool get-sum" in first_text(failed)

        native = await session.call_tool("github_list_repos", {})
        assert not native.is_error

        not_enabled = await session.call_tool("everything__echo", {"message": "hi"})
        assert error_code(not_enabled) == "TOOL_NOT_ENABLED"

    calls = await tool_calls(client, owner)
    by_tool = [(call["tool"], call["outcome"], call["errorCode"]) for call in reversed(calls)]
    assert by_tool == [
        (SUM, "success", None),
        (STRUCTURED, "success", None),
        (IMAGE, "success", None),
        (SUM, "error", "UPSTREAM_TOOL_ERROR"),
        ("github_list_repos", "success", None),
        ("everything__echo", "rejected", "TOOL_NOT_ENABLED"),
    ]
    assert calls[-1]["integrationId"] == integration["id"]
    assert calls[-1]["provider"] == "mcp"
    assert calls[-1]["argumentNames"] == ["a", "b"]


async def test_rest_form_passes_the_result_through(
    client: httpx.AsyncClient,
    owner: Member,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    integration = await connect_remote(client, owner, everything_http.url)
    assert (await enable_tools(client, owner, integration["id"], [STRUCTURED])).status_code == 201
    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/{STRUCTURED}", json={"location": "Chicago"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is False
    assert set(result["structuredContent"]) == {"temperature", "conditions", "humidity"}


async def test_timeouts_oversized_results_and_unreachable_servers_are_readable_errors(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    mutable: MutableUpstream,  # noqa: F811
) -> None:
    integration = await connect_remote(client, owner, mutable.url, name="Mutable")
    assert (await enable_tools(client, owner, integration["id"], None)).status_code == 201
    async with mcp_client(app, owner) as session:
        slow = await session.call_tool("mutable__slow", {"seconds": 10})
        assert error_code(slow) == "UPSTREAM_TIMEOUT"
        assert "did not answer within 3 seconds" in first_text(slow)

        big = await session.call_tool("mutable__big", {"bytes": 200_000})
        assert error_code(big) == "UPSTREAM_TOO_LARGE"
        assert "larger than 100000 bytes" in first_text(big)

        fine = await session.call_tool("mutable__add", {"a": 1, "b": 1})
        assert fine.structured_content == {"sum": 2}
    outcomes = [(call["tool"], call["errorCode"]) for call in reversed(await tool_calls(client, owner))]
    assert outcomes == [
        ("mutable__slow", "UPSTREAM_TIMEOUT"),
        ("mutable__big", "UPSTREAM_TOO_LARGE"),
        ("mutable__add", None),
    ]


async def test_a_server_killed_mid_call_gives_a_clear_error(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    with everything_process(Transport.streamable_http) as upstream:
        integration = await connect_remote(client, owner, upstream.url)
        tool = "everything__trigger-long-running-operation"
        assert (await enable_tools(client, owner, integration["id"], [tool])).status_code == 201
        async with mcp_client(app, owner) as session:
            call = asyncio.create_task(session.call_tool(tool, {"duration": 20, "steps": 20}))
            # Kill the upstream once the call reached it.
            while not upstream_has_connection(upstream):  # noqa: ASYNC110 (another process's state)
                await asyncio.sleep(0.05)
            upstream.kill()
            result = await call
            assert error_code(result) == "UPSTREAM_UNAVAILABLE"
            assert "failed" in first_text(result)
            # Gone for good: the next call cannot even connect.
            again = await session.call_tool(tool, {"duration": 1, "steps": 1})
            assert error_code(again) == "UPSTREAM_UNAVAILABLE"


def upstream_has_connection(upstream: NodeUpstream) -> bool:
    """True once some client holds an established TCP connection to the upstream's port (Node listens on IPv6,
    so a loopback connection may be listed in either table)."""
    port = f":{upstream.port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for line in rows.readlines()[1:]:
                fields = line.split()
                # fields[1] is the local address, fields[3] the state (01: established).
                if fields[1].endswith(port) and fields[3] == "01":
                    return True
    return False


async def test_another_teams_server_is_invisible(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    other_team: Member,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    theirs = await connect_remote(client, other_team, everything_http.url)
    assert (await enable_tools(client, other_team, theirs["id"], [SUM])).status_code == 201
    integration_id = theirs["id"]
    for method, path in [
        ("GET", f"/api/integrations/{integration_id}"),
        ("GET", f"/api/integrations/{integration_id}/tools"),
        ("POST", f"/api/integrations/{integration_id}/tools/refresh"),
        ("POST", f"/api/integrations/{integration_id}/tools/get-sum/approve"),
        ("DELETE", f"/api/integrations/{integration_id}"),
    ]:
        response = await client.request(method, path, headers=owner.headers)
        assert response.status_code == 404, (method, path, response.text)
    listed = (await client.get("/api/integrations", headers=owner.headers)).json()
    assert listed["integrations"] == []
    enabled = await enable_tools(client, owner, integration_id, [SUM])
    assert enabled.status_code == 404
    async with mcp_client(app, owner) as session:
        assert (await session.list_tools()).tools == []
        with pytest.raises(MCPError, match="Unknown tool"):
            await session.call_tool(SUM, {"a": 1, "b": 2})
    rest = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/{SUM}", json={"a": 1, "b": 2}, headers=owner.headers
    )
    assert rest.status_code == 404
    # Their own workspace still has it.
    async with mcp_client(app, other_team) as session:
        assert [tool.name for tool in (await session.list_tools()).tools] == [SUM]


@pytest.mark.parametrize("settings_overrides", [{**REMOTE_SETTINGS, "RATE_LIMIT_FREE_PER_MINUTE": 4}])
async def test_remote_calls_count_against_the_rate_limit(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    integration = await connect_remote(client, owner, everything_http.url)
    assert (await enable_tools(client, owner, integration["id"], [SUM])).status_code == 201
    path = f"/api/workspaces/{owner.workspace_id}/tools/{SUM}"
    statuses = [(await client.post(path, json={"a": 1, "b": 1}, headers=owner.headers)).status_code for _ in range(3)]
    # The connect and the enable were two requests of the four.
    assert statuses == [200, 200, 429]
