"""The upstream client against the official reference server, over Streamable HTTP (the 2025 session
generation) and the legacy HTTP+SSE transport."""

import asyncio
from collections.abc import Iterator

import mcp_types
import pytest

from platform_server.integrations.remote_mcp.upstream import (
    Transport,
    UpstreamLimits,
    UpstreamTarget,
    UpstreamUnavailable,
    call_tool,
    list_tools,
    probe,
)
from tests.remote_mcp.upstreams import everything_process

LIMITS = UpstreamLimits(allow_private=True, timeout_seconds=15)


@pytest.fixture(scope="module", params=list(Transport))
def upstream(request: pytest.FixtureRequest) -> Iterator[UpstreamTarget]:
    transport: Transport = request.param
    with everything_process(transport) as server:
        yield UpstreamTarget(url=server.url, transport=transport)


async def test_probe_reports_the_reference_server(upstream: UpstreamTarget) -> None:
    answered = await probe(upstream, limits=LIMITS)
    assert answered.server_info is not None
    assert answered.server_info.name == "mcp-servers/everything"
    # The reference server speaks the 2025 generation (initialize, sessions).
    assert answered.protocol_version.startswith("2025-")
    assert answered.capabilities.tools is not None


async def test_tools_are_listed_with_their_schemas(upstream: UpstreamTarget) -> None:
    tools = {tool.name: tool for tool in await list_tools(upstream, limits=LIMITS)}
    assert {"echo", "get-sum", "get-tiny-image", "get-structured-content"} <= tools.keys()
    assert tools["get-sum"].input_schema["required"] == ["a", "b"]


async def test_calls_pass_text_images_and_structured_content_through(upstream: UpstreamTarget) -> None:
    echoed = await call_tool(upstream, "echo", {"message": "hi"}, limits=LIMITS)
    assert echoed.content == [mcp_types.TextContent(type="text", text="Echo: hi")]
    image = await call_tool(upstream, "get-tiny-image", {}, limits=LIMITS)
    assert any(isinstance(block, mcp_types.ImageContent) and block.mime_type == "image/png" for block in image.content)
    structured = await call_tool(upstream, "get-structured-content", {"location": "New York"}, limits=LIMITS)
    assert structured.structured_content is not None
    assert "temperature" in structured.structured_content


async def test_invalid_arguments_come_back_as_the_servers_error(upstream: UpstreamTarget) -> None:
    result = await call_tool(upstream, "get-sum", {"a": "one"}, limits=LIMITS)
    assert result.is_error


@pytest.mark.parametrize("transport", list(Transport))
async def test_a_server_killed_mid_call_is_unavailable(transport: Transport) -> None:
    with everything_process(transport) as upstream:
        target = UpstreamTarget(url=upstream.url, transport=transport)
        call = asyncio.create_task(
            call_tool(target, "trigger-long-running-operation", {"duration": 10, "steps": 5}, limits=LIMITS)
        )
        await asyncio.sleep(2)
        assert not call.done()
        upstream.kill()
        with pytest.raises(UpstreamUnavailable):
            await call
