"""The MCP client for remote servers: list a server's tools, call one, or probe it, over Streamable HTTP (both
the 2025 session generation and the stateless 2026-07-28 one) or the legacy HTTP+SSE transport. Every failure
becomes an `UpstreamError` whose message is safe to show to a model or a user.

Streamable HTTP `tools/call` and `tools/list` are the gateway's hot path, so they do not go through the SDK's
`Client`: a fresh `Client` per call cost a TCP connection, a `server/discover` or `initialize` round trip, a
`tools/list` to validate structured content, and the SDK's per-session task group and memory streams, about
48 ms of our CPU per call against an upstream whose own work was 2-6 ms. Instead each event loop keeps an
`UpstreamPool` of long-lived sessions, one per (URL, transport, credentials, limits), each with its own guarded
keep-alive HTTP client. The generation is negotiated once (discover, else initialize); a 2025 session keeps its
`Mcp-Session-Id` and negotiated version and is initialized again, once, when the server says it forgot the
session. Each call is then one JSON-RPC POST (redirects followed only within the server's origin, as the SDK
does) whose answer, JSON or an SSE stream, is validated with the `mcp_types` models. Results pass through as the
server sent them: structured content is not checked against the tool's output schema here. The SDK still does
`probe` (connect time, rare) and the legacy SSE transport, whose session is a long-lived stream, with one
connection per operation."""

import asyncio
import contextlib
import hashlib
import itertools
import json
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import version
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import httpx2
import mcp_types
import orjson
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_MODERN_VERSION
from pydantic import ValidationError

from platform_server.http1 import Response, ResponseTooLarge
from platform_server.integrations.remote_mcp.http1 import Http1Client
from platform_server.integrations.remote_mcp.net import AddressRefused, GuardedTransport

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


def authorization_refusal(response: httpx2.Response) -> UpstreamUnauthorized | None:
    """The server's authorization challenge when `response` is a 401 or a 403 insufficient_scope."""
    return _refusal(response.status_code, response.headers.get("www-authenticate"))


def _refusal(status_code: int, challenge: str | None) -> UpstreamUnauthorized | None:
    insufficient = status_code == 403 and "insufficient_scope" in (challenge or "")
    if status_code != 401 and not insufficient:
        return None
    reason = "lacks a permission (scope) the server requires" if insufficient else "was refused"
    return UpstreamUnauthorized(f"The remote server's authorization {reason}", challenge)


class _Challenges:
    """Keeps the authorization challenge of the first 401 (or 403 insufficient_scope) the server answers; the
    SDK reports those as generic JSON-RPC errors."""

    def __init__(self) -> None:
        self.refusal: UpstreamUnauthorized | None = None

    async def observe(self, response: httpx2.Response) -> None:
        if self.refusal is None:
            self.refusal = authorization_refusal(response)


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def upstream_error(exc: BaseException, guard: GuardedTransport, refusal: UpstreamUnauthorized | None) -> UpstreamError:
    """The readable error for a failed exchange: what the guard refused first, else the server's
    authorization challenge, else what the failure itself says."""
    if guard.incident is not None:
        return failure_error(guard.incident)
    if refusal is not None:
        return refusal
    return failure_error(exc)


def failure_error(exc: BaseException) -> UpstreamError:
    """The readable error for what an exchange raised (the first leaf of a group that says something)."""
    for leaf in _leaves(exc):
        if isinstance(leaf, UpstreamError):
            return leaf
        if isinstance(leaf, ResponseTooLarge):
            return UpstreamTooLarge(f"The remote server's answer is larger than {leaf.limit} bytes")
        if isinstance(leaf, AddressRefused):
            return UpstreamAddressRefused(leaf.message)
        if isinstance(leaf, httpx2.TimeoutException):
            return UpstreamTimeout("The remote server did not answer in time")
        if isinstance(leaf, httpx2.HTTPStatusError):
            return UpstreamUnavailable(f"The remote server answered HTTP {leaf.response.status_code}")
        if isinstance(leaf, httpx2.TransportError | OSError | anyio.ClosedResourceError | anyio.EndOfStream):
            return UpstreamUnavailable("The remote server could not be reached or closed the connection")
        if isinstance(leaf, MCPError) and leaf.code == mcp_types.CONNECTION_CLOSED:
            return UpstreamUnavailable("The remote server closed the connection before answering")
        if isinstance(leaf, MCPError):
            return _answered_error(leaf.error.message)
        if isinstance(leaf, ValidationError | ValueError):
            return UpstreamProtocolError("The remote server's answer is not valid MCP")
    return UpstreamProtocolError("The remote server's answer could not be understood")


def _answered_error(message: object) -> UpstreamProtocolError:
    return UpstreamProtocolError(clip_message(f"The remote server answered with an error: {message}"))


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
    answered: list[_Result] = []
    try:
        with anyio.fail_after(limits.timeout_seconds):
            async with AsyncExitStack() as stack:
                if owned_http is not None:
                    await stack.enter_async_context(owned_http)
                client = await stack.enter_async_context(Client(transport, mode=mode, cache=None))
                answered.append(await operation(client))
        return answered[0]
    except UpstreamError:
        raise
    except Exception as exc:
        # The SDK's SSE reader can still be writing to its stream while the session closes (BrokenResourceError
        # out of the transport's task group): an answer already received whole stands.
        if answered:
            return answered[0]
        if isinstance(exc, TimeoutError) and guard.incident is None and challenges.refusal is None:
            raise UpstreamTimeout(
                f"The remote server did not answer within {limits.timeout_seconds:g} seconds"
            ) from None
        raise upstream_error(exc, guard, challenges.refusal) from None
    finally:
        await guard.aclose()


# ---- Streamable HTTP: pooled sessions, one JSON-RPC POST a call ---------------------------------------------

MAX_POOLED_SESSIONS = 256
MAX_CONNECTIONS_PER_UPSTREAM = 32
KEEPALIVE_SECONDS = 60
SESSION_CLOSE_SECONDS = 2
_CLIENT_INFO = {"name": "platform-server", "version": version("platform-server")}
_USER_AGENT = f"platform-server/{_CLIENT_INFO['version']}"
_MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": LATEST_MODERN_VERSION,
    "io.modelcontextprotocol/clientInfo": _CLIENT_INFO,
    "io.modelcontextprotocol/clientCapabilities": {},
}
_HANDSHAKE_VERSION = HANDSHAKE_PROTOCOL_VERSIONS[-1]
_ACCEPT = "application/json, text/event-stream"


class _Generation(StrEnum):
    modern = "modern"  # 2026-07-28: stateless, every request names its version in `_meta`
    handshake = "handshake"  # 2025: initialize, then an optional Mcp-Session-Id on every request


class _SessionExpired(Exception):
    """The server forgot the session our request named: 404, as the spec has it, or the 400 "No valid session
    ID provided" of servers built on the TypeScript SDK's examples (the reference server among them)."""


@dataclass(frozen=True)
class _SessionKey:
    url: str
    transport: Transport
    # A digest, so that credentials are not kept twice (they are in the session's client headers).
    headers: str
    limits: UpstreamLimits

    @classmethod
    def of(cls, target: UpstreamTarget, limits: UpstreamLimits) -> "_SessionKey":
        headers = json.dumps(sorted((name.lower(), value) for name, value in target.headers.items()))
        digest = hashlib.sha256(headers.encode()).hexdigest()
        return cls(url=target.url, transport=target.transport, headers=digest, limits=limits)


class _StreamableSession:
    """One upstream over Streamable HTTP: a guarded keep-alive client and what was negotiated with the server.
    Safe for concurrent calls; negotiation happens once, under a lock."""

    def __init__(self, target: UpstreamTarget, limits: UpstreamLimits) -> None:
        self._url = target.url
        self._http = Http1Client(
            {**target.headers, "user-agent": _USER_AGENT, "content-type": "application/json"},
            allow_private=limits.allow_private,
            max_response_bytes=limits.max_response_bytes,
            max_connections=MAX_CONNECTIONS_PER_UPSTREAM,
            keepalive_seconds=KEEPALIVE_SECONDS,
        )
        self._negotiating = anyio.Lock()
        self._generation: _Generation | None = None
        self._protocol_version = _HANDSHAKE_VERSION
        self._session_id: str | None = None
        self._request_ids = itertools.count(1)
        self.leases = 0
        self.retired = False

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The result of one JSON-RPC request, negotiating first if nothing was negotiated yet."""
        if self._generation is None:
            async with self._negotiating:
                if self._generation is None:
                    await self._negotiate()
        session_id = self._session_id
        try:
            result, _ = await self._post(method, params)
        except _SessionExpired:
            async with self._negotiating:
                # Concurrent calls that saw the same session expire start one new session between them.
                if self._session_id == session_id:
                    await self._initialize()
            result, _ = await self._post(method, params)
        return result

    async def _negotiate(self) -> None:
        """Discover at the 2026-07-28 version; anything but a modern answer means the 2025 handshake (the SDK's
        `auto` policy). Authorization refusals, timeouts and unreachable servers are answers of their own."""
        try:
            answer, _ = await self._post("server/discover", {}, generation=_Generation.modern)
            discovered = mcp_types.DiscoverResult.model_validate(answer)
        except (UpstreamProtocolError, ValidationError, ValueError):
            discovered = None
        if discovered is not None and LATEST_MODERN_VERSION in discovered.supported_versions:
            self._generation = _Generation.modern
            return
        await self._initialize()

    async def _initialize(self) -> None:
        params = {"protocolVersion": _HANDSHAKE_VERSION, "capabilities": {}, "clientInfo": _CLIENT_INFO}
        answer, headers = await self._post("initialize", params, generation=_Generation.handshake)
        initialized = mcp_types.InitializeResult.model_validate(answer)
        if initialized.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
            raise UpstreamProtocolError(
                clip_message(f"The remote server speaks protocol version {initialized.protocol_version}")
            )
        session_id = headers.get("mcp-session-id")
        # The session is announced as initialized before other calls may use it.
        notification = orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
        notification_headers = _handshake_headers(initialized.protocol_version, session_id)
        async with self._http.stream("POST", self._url, notification_headers, notification) as response:
            await _check_status(response)
            await response.read()
        self._generation = _Generation.handshake
        self._protocol_version = initialized.protocol_version
        self._session_id = session_id

    def _session_headers(self) -> dict[str, str]:
        return _handshake_headers(self._protocol_version, self._session_id)

    async def _post(
        self, method: str, params: dict[str, Any], *, generation: _Generation | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """One request and its answer. `generation` overrides the negotiated one while negotiating."""
        if (generation or self._generation) is _Generation.modern:
            params = {**params, "_meta": _MODERN_META}
            headers = {"accept": _ACCEPT, "mcp-protocol-version": LATEST_MODERN_VERSION, "mcp-method": method}
            if method == "tools/call":
                headers["mcp-name"] = str(params["name"])
        else:
            headers = {"accept": _ACCEPT} if method == "initialize" else self._session_headers()
        request_id = next(self._request_ids)
        body = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        async with self._http.stream("POST", self._url, headers, body) as response:
            if "mcp-session-id" in headers and await _session_unknown(response):
                raise _SessionExpired
            await _check_status(response)
            return await _answer(response, request_id), response.headers

    async def aclose(self) -> None:
        """Ends a 2025 session politely (DELETE, as the spec asks; best effort) and closes the connections."""
        with anyio.CancelScope(shield=True):
            if self._session_id is not None:
                with anyio.move_on_after(SESSION_CLOSE_SECONDS), contextlib.suppress(Exception):
                    async with self._http.stream("DELETE", self._url, self._session_headers()) as response:
                        await response.read()
            self._http.close()


async def _check_status(response: Response) -> None:
    refusal = _refusal(response.status_code, response.headers.get("www-authenticate"))
    if refusal is not None:
        raise refusal
    if response.is_success:
        return
    body = await response.read()
    try:
        error = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        status = f"The remote server answered HTTP {response.status_code}{_redirect_note(response)}"
        raise (UpstreamUnavailable if response.status_code >= 500 else UpstreamProtocolError)(status) from None
    raise _answered_error(error)


def _redirect_note(response: Response) -> str:
    """Where an unfollowed redirect led, without userinfo, query or fragment (they may carry state)."""
    location = response.headers.get("location")
    if not 300 <= response.status_code < 400 or location is None:
        return ""
    parts = urlsplit(urljoin(response.url, location))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return f" (redirected to {urlunsplit((parts.scheme, netloc, parts.path, '', ''))}; not followed)"


async def _answer(response: Response, request_id: int) -> dict[str, Any]:
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return _result(json.loads(await response.read()), request_id)
    if media_type != "text/event-stream":
        raise UpstreamProtocolError("The remote server's answer is not valid MCP")
    async for data in _sse_data(response):
        message = json.loads(data)
        if not isinstance(message, dict):
            raise UpstreamProtocolError("The remote server's answer is not valid MCP")
        if message.get("id") == request_id and "method" not in message:
            return _result(message, request_id)
        # Notifications (progress, logging) carry nothing the caller asked for. We declare no client
        # capabilities, so a server has no sampling, elicitation or roots request to send us.
    raise UpstreamUnavailable("The remote server closed the connection before answering")


def _handshake_headers(protocol_version: str, session_id: str | None) -> dict[str, str]:
    """The headers of a request within a 2025 session."""
    headers = {"accept": _ACCEPT, "mcp-protocol-version": protocol_version}
    if session_id is not None:
        headers["mcp-session-id"] = session_id
    return headers


async def _session_unknown(response: Response) -> bool:
    if response.status_code == 404:
        return True
    return response.status_code == 400 and b"session" in (await response.read()).lower()


def _result(message: object, request_id: int) -> dict[str, Any]:
    if not isinstance(message, dict) or message.get("id") != request_id:
        raise UpstreamProtocolError("The remote server's answer is not valid MCP")
    if isinstance(message.get("error"), dict):
        raise _answered_error(message["error"].get("message"))
    result = message.get("result")
    if not isinstance(result, dict):
        raise UpstreamProtocolError("The remote server's answer is not valid MCP")
    return result


async def _sse_data(response: Response) -> AsyncIterator[str]:
    """The data of each event of an SSE stream (events without data, such as priming events, are skipped)."""
    data: list[str] = []
    async for line in response.iter_lines():
        if line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
        elif not line:
            event = "\n".join(data)
            data = []
            if event:
                yield event


class UpstreamPool:
    """The process's Streamable HTTP sessions, least recently used first; beyond `max_sessions` the oldest is
    retired and closed as soon as no call uses it. Belongs to one event loop."""

    def __init__(self, max_sessions: int = MAX_POOLED_SESSIONS) -> None:
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[_SessionKey, _StreamableSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    @asynccontextmanager
    async def lease(self, target: UpstreamTarget, limits: UpstreamLimits) -> AsyncIterator[_StreamableSession]:
        key = _SessionKey.of(target, limits)
        session = self._sessions.pop(key, None) or _StreamableSession(target, limits)
        self._sessions[key] = session
        session.leases += 1
        try:
            while len(self._sessions) > self._max_sessions:
                _, oldest = self._sessions.popitem(last=False)
                await self._retire(oldest)
            yield session
        finally:
            session.leases -= 1
            if session.retired:
                await self._retire(session)

    async def _retire(self, session: _StreamableSession) -> None:
        session.retired = True
        if session.leases == 0:
            await session.aclose()

    async def aclose(self) -> None:
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            await self._retire(session)


_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, UpstreamPool]" = weakref.WeakKeyDictionary()


def upstream_pool() -> UpstreamPool:
    """This event loop's pool (connections cannot move between loops)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = UpstreamPool()
    return pool


async def aclose_upstreams() -> None:
    """Closes this event loop's pooled upstream sessions (the app's shutdown)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.aclose()


async def _with_session(
    target: UpstreamTarget,
    limits: UpstreamLimits,
    operation: Callable[[_StreamableSession], Awaitable[_Result]],
) -> _Result:
    try:
        # asyncio's own timeout: the pooled path runs on the server's event loop, and anyio's cancel scope cost
        # a fifth of a call's upstream exchange.
        async with asyncio.timeout(limits.timeout_seconds):
            async with upstream_pool().lease(target, limits) as session:
                return await operation(session)
    except UpstreamError:
        raise
    except TimeoutError:
        raise UpstreamTimeout(f"The remote server did not answer within {limits.timeout_seconds:g} seconds") from None
    except Exception as exc:
        raise failure_error(exc) from None


async def list_tools(target: UpstreamTarget, *, limits: UpstreamLimits) -> list[mcp_types.Tool]:
    """Every tool the server lists, following `nextCursor` page by page within the limits."""

    async def collect(list_page: Callable[[str | None], Awaitable[mcp_types.ListToolsResult]]) -> list[mcp_types.Tool]:
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        seen_cursors: set[str] = set()
        for _ in range(limits.max_tool_pages):
            page = await list_page(cursor)
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

    if target.transport is Transport.sse:
        return await _with_client(
            target, limits, lambda client: collect(lambda cursor: client.list_tools(cursor=cursor))
        )

    async def list_page(session: _StreamableSession, cursor: str | None) -> mcp_types.ListToolsResult:
        answer = await session.request("tools/list", {} if cursor is None else {"cursor": cursor})
        return mcp_types.ListToolsResult.model_validate(answer)

    return await _with_session(target, limits, lambda session: collect(lambda cursor: list_page(session, cursor)))


async def call_tool(
    target: UpstreamTarget, name: str, arguments: dict[str, Any], *, limits: UpstreamLimits
) -> mcp_types.CallToolResult:
    """The server's result as it answered it: content, structured content and isError unchanged."""
    if target.transport is Transport.sse:
        return await _with_client(target, limits, lambda client: client.call_tool(name, arguments))

    async def call(session: _StreamableSession) -> mcp_types.CallToolResult:
        answer = await session.request("tools/call", {"name": name, "arguments": arguments})
        return mcp_types.CallToolResult.model_validate(answer)

    return await _with_session(target, limits, call)


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
