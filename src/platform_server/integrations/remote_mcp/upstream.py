"""The MCP client for one remote server: list its tools, call one, or probe it, over Streamable HTTP (both the
2025 session generation and the stateless 2026-07-28 one, negotiated by the SDK) or the legacy HTTP+SSE
transport. One connection per operation; every failure becomes an `UpstreamError` whose message is safe to
show to a model or a user."""

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from platform_server.integrations.remote_mcp.net import AddressRefused, GuardedTransport, ResponseTooLarge

_Result = TypeVar("_Result")
MAX_ERROR_TEXT = 300


class Transport(StrEnum):
    streamable_http = "streamable_http"
    sse = "sse"


@dataclass(frozen=True)
class UpstreamTarget:
    url: str
    transport: Transport
    # Authorization included when we hold a token or a static secret.
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UpstreamLimits:
    timeout_seconds: float = 30
    max_response_bytes: int = 4 * 1024 * 1024
    allow_private: bool = False
    # tools/list is paged by the server; these bound a server that never stops paging.
    max_tool_pages: int = 50
    max_tools: int = 1000


@dataclass(frozen=True)
class ServerProbe:
    server_info: mcp_types.Implementation | None
    protocol_version: str
    capabilities: mcp_types.ServerCapabilities
    instructions: str | None


class UpstreamError(Exception):
    """A remote server call that did not produce an answer; `message` is readable and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UpstreamUnauthorized(UpstreamError):
    """The server wants (other) credentials: 401, or 403 insufficient_scope. `www_authenticate` carries the
    challenge (resource metadata URL, scope) that authorization discovery starts from."""

    def __init__(self, message: str, www_authenticate: str | None = None) -> None:
        super().__init__(message)
        self.www_authenticate = www_authenticate


class UpstreamGrantRevoked(UpstreamUnauthorized):
    """The authorization server no longer honours the refresh token: the connection must be authorized again."""


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamTooLarge(UpstreamError):
    pass


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamProtocolError(UpstreamError):
    pass


class UpstreamAddressRefused(UpstreamError):
    pass


def clip_message(text: str) -> str:
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "…"


class _Challenges:
    """Keeps the authorization challenge of the first 401 (or 403 insufficient_scope) the server answers; the
    SDK reports those as generic JSON-RPC errors."""

    def __init__(self) -> None:
        self.refusal: UpstreamUnauthorized | None = None

    async def observe(self, response: httpx2.Response) -> None:
        challenge = response.headers.get("www-authenticate")
        insufficient = response.status_code == 403 and "insufficient_scope" in (challenge or "")
        if self.refusal is None and (response.status_code == 401 or insufficient):
            reason = "lacks a permission (scope) the server requires" if insufficient else "was refused"
            self.refusal = UpstreamUnauthorized(f"The remote server's authorization {reason}", challenge)


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def upstream_error(exc: BaseException, guard: GuardedTransport, refusal: UpstreamUnauthorized | None) -> UpstreamError:
    """The readable error for a failed exchange: what the guard refused first, else the server's
    authorization challenge, else what the failure itself says."""
    if isinstance(guard.incident, ResponseTooLarge):
        return UpstreamTooLarge(f"The remote server's answer is larger than {guard.max_response_bytes} bytes")
    if isinstance(guard.incident, AddressRefused):
        return UpstreamAddressRefused(guard.incident.message)
    if refusal is not None:
        return refusal
    for leaf in _leaves(exc):
        if isinstance(leaf, UpstreamError):
            return leaf
        if isinstance(leaf, httpx2.TimeoutException):
            return UpstreamTimeout("The remote server did not answer in time")
        if isinstance(leaf, httpx2.HTTPStatusError):
            return UpstreamUnavailable(f"The remote server answered HTTP {leaf.response.status_code}")
        if isinstance(leaf, httpx2.TransportError | OSError | anyio.ClosedResourceError | anyio.EndOfStream):
            return UpstreamUnavailable("The remote server could not be reached or closed the connection")
        if isinstance(leaf, MCPError) and leaf.code == mcp_types.CONNECTION_CLOSED:
            return UpstreamUnavailable("The remote server closed the connection before answering")
        if isinstance(leaf, MCPError):
            return UpstreamProtocolError(
                clip_message(f"The remote server answered with an error: {leaf.error.message}")
            )
        if isinstance(leaf, ValidationError | ValueError):
            return UpstreamProtocolError("The remote server's answer is not valid MCP")
    return UpstreamProtocolError("The remote server's answer could not be understood")


def _transport(
    target: UpstreamTarget, limits: UpstreamLimits, guard: GuardedTransport, challenges: _Challenges
) -> tuple[AbstractAsyncContextManager[Any], httpx2.AsyncClient | None]:
    def http_client(
        headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=guard,
            headers={**dict(target.headers), **(headers or {})},
            timeout=httpx2.Timeout(limits.timeout_seconds),
            event_hooks={"response": [challenges.observe]},
            trust_env=False,
        )

    if target.transport is Transport.sse:
        return sse_client(
            target.url,
            timeout=limits.timeout_seconds,
            sse_read_timeout=limits.timeout_seconds,
            httpx_client_factory=http_client,
        ), None
    client = http_client()
    return streamable_http_client(target.url, http_client=client), client


async def _with_client(
    target: UpstreamTarget, limits: UpstreamLimits, operation: Callable[[Client], Awaitable[_Result]]
) -> _Result:
    guard = GuardedTransport(allow_private=limits.allow_private, max_response_bytes=limits.max_response_bytes)
    challenges = _Challenges()
    transport, owned_http = _transport(target, limits, guard, challenges)
    # The legacy SSE transport predates the 2026 generation: no discovery probe there.
    mode = "legacy" if target.transport is Transport.sse else "auto"
    try:
        with anyio.fail_after(limits.timeout_seconds):
            async with AsyncExitStack() as stack:
                if owned_http is not None:
                    await stack.enter_async_context(owned_http)
                client = await stack.enter_async_context(Client(transport, mode=mode, cache=None))
                return await operation(client)
    except UpstreamError:
        raise
    except TimeoutError as exc:
        if guard.incident is None and challenges.refusal is None:
            raise UpstreamTimeout(
                f"The remote server did not answer within {limits.timeout_seconds:g} seconds"
            ) from None
        raise upstream_error(exc, guard, challenges.refusal) from None
    except Exception as exc:
        raise upstream_error(exc, guard, challenges.refusal) from None
    finally:
        await guard.aclose()


async def list_tools(target: UpstreamTarget, *, limits: UpstreamLimits) -> list[mcp_types.Tool]:
    """Every tool the server lists, following `nextCursor` page by page within the limits."""

    async def collect(client: Client) -> list[mcp_types.Tool]:
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        seen_cursors: set[str] = set()
        for _ in range(limits.max_tool_pages):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            if len(tools) > limits.max_tools:
                raise UpstreamTooLarge(f"The remote server lists more than {limits.max_tools} tools")
            cursor = page.next_cursor
            if cursor is None:
                return tools
            if cursor in seen_cursors:
                raise UpstreamProtocolError("The remote server's tool list pages repeat a cursor")
            seen_cursors.add(cursor)
        raise UpstreamTooLarge(f"The remote server's tool list runs past {limits.max_tool_pages} pages")

    return await _with_client(target, limits, collect)


async def call_tool(
    target: UpstreamTarget, name: str, arguments: dict[str, Any], *, limits: UpstreamLimits
) -> mcp_types.CallToolResult:
    """The server's result as it answered it: content, structured content and isError unchanged."""

    async def call(client: Client) -> mcp_types.CallToolResult:
        return await client.call_tool(name, arguments)

    return await _with_client(target, limits, call)


async def probe(target: UpstreamTarget, *, limits: UpstreamLimits) -> ServerProbe:
    """Connects (initialize, or discovery on a 2026-07-28 server) and reports who answered."""

    async def describe(client: Client) -> ServerProbe:
        return ServerProbe(
            server_info=client.server_info,
            protocol_version=client.protocol_version,
            capabilities=client.server_capabilities,
            instructions=client.instructions,
        )

    return await _with_client(target, limits, describe)
