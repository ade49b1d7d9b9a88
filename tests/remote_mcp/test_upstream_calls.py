"""The upstream client against a Python SDK server: paging, results passed through unchanged, the 2026-07-28
generation, and every way an upstream can fail becoming a readable UpstreamError."""

from collections.abc import Iterator

import mcp_types
import pytest

from platform_server.integrations.remote_mcp.upstream import (
    Transport,
    UpstreamLimits,
    UpstreamProtocolError,
    UpstreamTarget,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnavailable,
    call_tool,
    list_tools,
    probe,
)
from tests.remote_mcp.upstreams import PAGE_SIZE, TINY_PNG, TOOLS, free_port, python_server

LIMITS = UpstreamLimits(allow_private=True, timeout_seconds=10)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with python_server() as url:
        yield url


def target(base_url: str, path: str = "/mcp") -> UpstreamTarget:
    return UpstreamTarget(url=base_url + path, transport=Transport.streamable_http)


async def test_list_tools_follows_every_page(base_url: str) -> None:
    assert len(TOOLS) > 2 * PAGE_SIZE
    tools = await list_tools(target(base_url), limits=LIMITS)
    assert [tool.name for tool in tools] == [tool.name for tool in TOOLS]
    weather = next(tool for tool in tools if tool.name == "weather")
    assert weather.output_schema == {"type": "object", "properties": {"celsius": {"type": "number"}}}


async def test_list_tools_refuses_past_the_page_cap(base_url: str) -> None:
    with pytest.raises(UpstreamTooLarge, match="past 2 pages"):
        await list_tools(target(base_url), limits=UpstreamLimits(allow_private=True, max_tool_pages=2))
    with pytest.raises(UpstreamTooLarge, match="more than 5 tools"):
        await list_tools(target(base_url), limits=UpstreamLimits(allow_private=True, max_tools=5))


async def test_the_stateless_generation_is_negotiated(base_url: str) -> None:
    answered = await probe(target(base_url), limits=LIMITS)
    assert answered.protocol_version == "2026-07-28"
    assert answered.server_info is not None
    assert answered.server_info.name == "python-upstream"
    assert answered.capabilities.tools is not None


async def test_text_passes_through(base_url: str) -> None:
    result = await call_tool(target(base_url), "echo", {"text": "héllo ✓"}, limits=LIMITS)
    assert result.content == [mcp_types.TextContent(type="text", text="héllo ✓")]
    assert not result.is_error


async def test_image_passes_through(base_url: str) -> None:
    result = await call_tool(target(base_url), "image", {}, limits=LIMITS)
    assert result.content == [mcp_types.ImageContent(type="image", data=TINY_PNG, mime_type="image/png")]


async def test_structured_content_passes_through(base_url: str) -> None:
    result = await call_tool(target(base_url), "weather", {}, limits=LIMITS)
    assert result.structured_content == {"celsius": 21.5}
    assert result.content == [mcp_types.TextContent(type="text", text='{"celsius": 21.5}')]


async def test_an_error_result_passes_through_as_a_result(base_url: str) -> None:
    result = await call_tool(target(base_url), "fail", {}, limits=LIMITS)
    assert result.is_error
    assert result.content == [mcp_types.TextContent(type="text", text="the upstream tool failed")]


async def test_a_slow_upstream_times_out(base_url: str) -> None:
    limits = UpstreamLimits(allow_private=True, timeout_seconds=1)
    with pytest.raises(UpstreamTimeout, match="within 1 seconds"):
        await call_tool(target(base_url), "slow", {"seconds": 5}, limits=limits)


async def test_an_oversized_answer_is_refused(base_url: str) -> None:
    limits = UpstreamLimits(allow_private=True, max_response_bytes=64 * 1024)
    with pytest.raises(UpstreamTooLarge, match="larger than 65536 bytes"):
        await call_tool(target(base_url), "huge", {}, limits=limits)
    # Within the cap, the same answer arrives whole.
    result = await call_tool(target(base_url), "huge", {}, limits=LIMITS)
    assert isinstance(result.content[0], mcp_types.TextContent)
    assert len(result.content[0].text) == 256 * 1024


@pytest.mark.parametrize("path", ["/garbage", "/html"])
async def test_garbage_answers_are_protocol_errors(base_url: str, path: str) -> None:
    with pytest.raises(UpstreamProtocolError) as raised:
        await list_tools(target(base_url, path), limits=LIMITS)
    assert "remote server" in raised.value.message


async def test_a_redirect_to_another_origin_is_not_followed(base_url: str) -> None:
    with pytest.raises(UpstreamProtocolError, match=r"HTTP 307 .*not followed"):
        await list_tools(target(base_url, "/away"), limits=LIMITS)


async def test_a_redirect_within_the_origin_is_followed(base_url: str) -> None:
    result = await call_tool(target(base_url, "/moved"), "echo", {"text": "moved"}, limits=LIMITS)
    assert result.content == [mcp_types.TextContent(type="text", text="moved")]


async def test_a_json_rpc_error_becomes_a_readable_error(base_url: str) -> None:
    # This server answers a failing handler (an unknown tool) with a JSON-RPC error, not an isError result.
    with pytest.raises(UpstreamProtocolError, match="answered with an error: Internal server error"):
        await call_tool(target(base_url), "nope", {}, limits=LIMITS)


async def test_nothing_listening_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UpstreamUnavailable, match="could not be reached"):
        await list_tools(target(url), limits=LIMITS)
