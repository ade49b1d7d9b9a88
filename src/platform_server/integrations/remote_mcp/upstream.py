"""Talking to a remote MCP server as a client: list its tools, call one, probe who it is.

Each operation opens a connection of its own (the SDK client over Streamable HTTP or the legacy HTTP+SSE
transport), bounded in time and size, and turns every failure into an `UpstreamError` whose message can be
shown to the person or model that asked.
"""

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx2
import mcp_types
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

_T = TypeVar("_T")
_MAX_PAGES = 100


class Transport(StrEnum):
    streamable_http = "streamable_http"
    sse = "sse"


@dataclass(frozen=True)
class UpstreamTarget:
    url: str
    transport: Transport
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UpstreamLimits:
    timeout_seconds: float = 30
    max_response_bytes: int = 4 * 1024 * 1024
    allow_private: bool = False


@dataclass(frozen=True)
class ServerProbe:
    name: str
    version: str
    protocol_version: str


class UpstreamError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UpstreamUnauthorized(UpstreamError):
    def __init__(self, message: str, www_authenticate: str | None = None) -> None:
        super().__init__(message)
        self.www_authenticate = www_authenticate


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


async def list_tools(target: UpstreamTarget, *, limits: UpstreamLimits) -> list[mcp_types.Tool]:
    async def run(client: Client) -> list[mcp_types.Tool]:
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                return tools
        raise UpstreamProtocolError(f"The server's tool list goes on for more than {_MAX_PAGES} pages")

    return await _with_client(target, limits, run)


async def call_tool(
    target: UpstreamTarget, name: str, arguments: Mapping[str, Any] | None, *, limits: UpstreamLimits
) -> mcp_types.CallToolResult:
    async def run(client: Client) -> mcp_types.CallToolResult:
        result = await client.call_tool(name, dict(arguments) if arguments is not None else None)
        size = len(result.model_dump_json(by_alias=True, exclude_none=True))
        if size > limits.max_response_bytes:
            raise UpstreamTooLarge(
                f"The server's result is {size} bytes, more than the {limits.max_response_bytes} bytes allowed"
            )
        return result

    return await _with_client(target, limits, run)


async def probe(target: UpstreamTarget, *, limits: UpstreamLimits) -> ServerProbe:
    async def run(client: Client) -> ServerProbe:
        info = client.server_info
        return ServerProbe(
            name=info.name if info is not None else "",
            version=info.version if info is not None else "",
            protocol_version=client.protocol_version,
        )

    return await _with_client(target, limits, run)


async def _with_client(target: UpstreamTarget, limits: UpstreamLimits, run: Callable[[Client], Awaitable[_T]]) -> _T:
    await _check_address(target.url, limits)
    statuses: list[httpx2.Response] = []

    async def note(response: httpx2.Response) -> None:
        if response.status_code == 401:
            statuses.append(response)

    def http_client(
        headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            headers={**(headers or {}), **target.headers},
            timeout=httpx2.Timeout(limits.timeout_seconds),
            event_hooks={"response": [note]},
        )

    answers: list[_T] = []
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            async with _connected(target, http_client) as client:
                answers.append(await run(client))
    except UpstreamError:
        raise
    except TimeoutError:
        raise UpstreamTimeout(f"The server did not answer within {limits.timeout_seconds:g} seconds") from None
    except Exception as exc:
        if answers:
            # The answer arrived; only closing the connection failed (the SSE transport races its reader).
            return answers[0]
        if statuses:
            raise UpstreamUnauthorized(
                "The server refused the credentials (HTTP 401)", statuses[-1].headers.get("www-authenticate")
            ) from None
        failure = _first_failure(exc)
        if isinstance(failure, UpstreamError):
            raise failure from None
        if isinstance(failure, MCPError):
            raise UpstreamProtocolError(f"The server answered an error: {failure.error.message}") from None
        if isinstance(failure, httpx2.HTTPError | OSError):
            raise UpstreamUnavailable(f"The server could not be reached: {type(failure).__name__}") from None
        raise UpstreamProtocolError(f"The server's answer broke the protocol: {type(failure).__name__}") from None
    return answers[0]


@asynccontextmanager
async def _connected(target: UpstreamTarget, http_client: Callable[..., httpx2.AsyncClient]) -> AsyncIterator[Client]:
    if target.transport is Transport.sse:
        transport: Any = sse_client(target.url, httpx_client_factory=http_client)
        async with Client(transport, mode="legacy") as client:
            yield client
        return
    async with http_client() as http, Client(streamable_http_client(target.url, http_client=http)) as client:
        yield client


def _first_failure(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def _check_address(url: str, limits: UpstreamLimits) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamAddressRefused("The server URL must be an http or https URL")
    if limits.allow_private:
        return
    if parts.scheme != "https":
        raise UpstreamAddressRefused("The server URL must use https")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise UpstreamUnavailable(f"The server's host {parts.hostname} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise UpstreamAddressRefused("The server is on a private, loopback or reserved address")
