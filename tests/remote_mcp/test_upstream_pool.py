"""The pool of upstream sessions: calls share keep-alive connections (counted at the server), a session the
server forgot is started again, sessions beyond the bound are evicted and closed, and closing the pool closes
them all."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import mcp_types
import pytest

from platform_server.integrations.remote_mcp.upstream import (
    MAX_CONNECTIONS_PER_UPSTREAM,
    Transport,
    UpstreamLimits,
    UpstreamPool,
    UpstreamTarget,
    aclose_upstreams,
    call_tool,
    list_tools,
    upstream_pool,
)
from tests.remote_mcp.upstreams import everything_process, free_port, python_server

LIMITS = UpstreamLimits(allow_private=True, timeout_seconds=15)


@pytest.fixture(autouse=True)
async def fresh_pool() -> AsyncIterator[None]:
    """Each test starts from an empty pool for this event loop and leaves one."""
    await aclose_upstreams()
    yield
    await aclose_upstreams()


@pytest.fixture
def counted() -> Iterator[tuple[str, set[tuple[str, int]]]]:
    """A Python SDK server and the client addresses of the TCP connections it accepted."""
    peers: set[tuple[str, int]] = set()
    with python_server(peers) as base_url:
        yield base_url + "/mcp", peers


def _target(url: str, token: str | None = None) -> UpstreamTarget:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return UpstreamTarget(url=url, transport=Transport.streamable_http, headers=headers)


def _echoed(result: mcp_types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, mcp_types.TextContent)
    return block.text


async def test_many_calls_share_one_connection(counted: tuple[str, set[tuple[str, int]]]) -> None:
    url, peers = counted
    for index in range(20):
        assert (
            _echoed(await call_tool(_target(url), "echo", {"text": f"call {index}"}, limits=LIMITS)) == f"call {index}"
        )
    assert await list_tools(_target(url), limits=LIMITS)
    assert len(peers) == 1


async def test_concurrent_calls_are_answered_over_a_bounded_set_of_connections(
    counted: tuple[str, set[tuple[str, int]]],
) -> None:
    url, peers = counted
    texts = [f"concurrent {index}" for index in range(MAX_CONNECTIONS_PER_UPSTREAM + 8)]
    results = await asyncio.gather(*(call_tool(_target(url), "echo", {"text": text}, limits=LIMITS) for text in texts))
    assert [_echoed(result) for result in results] == texts
    assert 1 <= len(peers) <= MAX_CONNECTIONS_PER_UPSTREAM
    connections = len(peers)
    # Afterwards the kept-alive connections carry the next calls.
    for text in texts[:5]:
        await call_tool(_target(url), "echo", {"text": text}, limits=LIMITS)
    assert len(peers) == connections


async def test_other_credentials_get_a_session_of_their_own(counted: tuple[str, set[tuple[str, int]]]) -> None:
    url, peers = counted
    await call_tool(_target(url, "alice"), "echo", {"text": "a"}, limits=LIMITS)
    await call_tool(_target(url, "bob"), "echo", {"text": "b"}, limits=LIMITS)
    await call_tool(_target(url, "alice"), "echo", {"text": "a"}, limits=LIMITS)
    assert len(peers) == 2
    assert len(upstream_pool()) == 2


async def test_closing_the_pool_closes_its_sessions(counted: tuple[str, set[tuple[str, int]]]) -> None:
    url, peers = counted
    await call_tool(_target(url), "echo", {"text": "before"}, limits=LIMITS)
    assert len(upstream_pool()) == 1
    await aclose_upstreams()
    assert len(upstream_pool()) == 0
    await call_tool(_target(url), "echo", {"text": "after"}, limits=LIMITS)
    assert len(peers) == 2


async def test_the_least_recently_used_session_is_evicted_and_closed(
    counted: tuple[str, set[tuple[str, int]]],
) -> None:
    url, peers = counted
    pool = UpstreamPool(max_sessions=2)
    echo = {"name": "echo", "arguments": {"text": "x"}}
    for token in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        async with pool.lease(_target(url, token), LIMITS) as session:
            await session.request("tools/call", echo)
    assert len(pool) == 2
    assert len(peers) == 3
    async with pool.lease(_target(url, "a"), LIMITS) as session:
        await session.request("tools/call", echo)
    assert len(peers) == 3  # "a" was kept
    async with pool.lease(_target(url, "b"), LIMITS) as session:
        await session.request("tools/call", echo)
    assert len(peers) == 4  # "b" was closed: it connects again
    await pool.aclose()
    assert len(pool) == 0


async def test_a_session_in_use_is_closed_only_when_its_call_ends(counted: tuple[str, set[tuple[str, int]]]) -> None:
    url, peers = counted
    pool = UpstreamPool(max_sessions=1)
    echo = {"name": "echo", "arguments": {"text": "still here"}}
    async with pool.lease(_target(url, "a"), LIMITS) as first:
        async with pool.lease(_target(url, "b"), LIMITS) as second:
            await second.request("tools/call", echo)
        # Evicted by "b", but this call still holds it.
        answer = await first.request("tools/call", echo)
    assert mcp_types.CallToolResult.model_validate(answer).content == [
        mcp_types.TextContent(type="text", text="still here")
    ]
    assert len(pool) == 1
    assert len(peers) == 2
    async with pool.lease(_target(url, "a"), LIMITS) as again:
        await again.request("tools/call", echo)
    assert len(peers) == 3  # "a" was closed once its call ended
    await pool.aclose()


async def test_a_forgotten_session_is_started_again() -> None:
    """The 2025 generation: the reference server restarted on the same port knows nothing of our session."""
    port = free_port()
    with everything_process(Transport.streamable_http, port) as upstream:
        target = UpstreamTarget(url=upstream.url, transport=Transport.streamable_http)
        assert _echoed(await call_tool(target, "echo", {"message": "before"}, limits=LIMITS)) == "Echo: before"
    with everything_process(Transport.streamable_http, port):
        assert _echoed(await call_tool(target, "echo", {"message": "after"}, limits=LIMITS)) == "Echo: after"
        assert _echoed(await call_tool(target, "echo", {"message": "again"}, limits=LIMITS)) == "Echo: again"
