"""The MCP side of the gateway: one low-level `mcp` Server whose handlers serve the workspace of the request.

The HTTP route authenticates the caller and finds the workspace's enablements, then hands the exchange here:
stateless JSON responses, 2026-07-28 clients (`server/discover`, per-request envelopes) and 2025-era clients
(`initialize`) on the same endpoint, no request depending on an earlier one, so any process can answer any
request (no sticky routing).

The two messages that make up the traffic, a well-formed `tools/list` or `tools/call`, are answered here
directly: checked by the SDK's own rules (its envelope classifier and per-version request validation), their
result shaped as the SDK shapes it, but without what a stateless JSON exchange does not need — a transport,
a runner and a tracing span per request, and a pydantic round trip of every result. Everything else
(`initialize`, `server/discover`, notifications, an unknown tool or method, any malformed part) goes to the
SDK's Streamable HTTP session manager, which stays the authority on the protocol's edges.
"""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

import mcp_types as mcp
import orjson
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http import check_accept_headers
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import (
    MCP_PROTOCOL_VERSION_HEADER,
    InboundModernRoute,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types import methods as mcp_methods
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Send

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.gateway.cache import CachedWorkspace, WorkspaceToolsCache
from platform_server.gateway.executor import CATALOG, input_schema, tool_executor
from platform_server.gateway.models import ToolCallChannel
from platform_server.integrations.remote_mcp.federation import refresh_stale_tools

SERVER_NAME = "platform-gateway"
INSTRUCTIONS = (
    "Tools of the integrations (GitHub, Jira, Linear, Notion, Slack, Figma) enabled for this Platform workspace. "
    "They act with the team's connected accounts. A failed call explains what to change: correct the "
    "arguments, wait the given number of seconds, or ask a team admin to enable a tool or reconnect an account."
)
# The list depends on the caller's workspace and may change at any moment (an admin enables a tool).
_LIST_TTL_MS = 0


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    """What the HTTP route resolved for one MCP exchange; handlers find it on the request scope."""

    principal: Principal
    workspace: CachedWorkspace


def _gateway_request(ctx: ServerRequestContext[Any, Any]) -> tuple[GatewayRequest, Request]:
    # The ASGI scope survives the SDK's task boundaries, so it carries the context rather than a ContextVar.
    request = ctx.request
    gateway = request.scope.get("state", {}).get("gateway") if isinstance(request, Request) else None
    if not isinstance(gateway, GatewayRequest):
        raise MCPError(code=mcp.INVALID_REQUEST, message="The gateway is served only at /api/workspaces/{id}/mcp")
    assert isinstance(request, Request)
    return gateway, request


def _listing(workspace: CachedWorkspace) -> mcp.ListToolsResult:
    return mcp.ListToolsResult(
        tools=tool_executor.enabled_tools(workspace.tools), cache_scope="private", ttl_ms=_LIST_TTL_MS
    )


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: mcp.PaginatedRequestParams | None
) -> mcp.ListToolsResult:
    gateway, request = _gateway_request(ctx)
    if params is not None and params.cursor is not None:
        # Every list fits one page, so no cursor was ever handed out.
        raise MCPError(code=mcp.INVALID_PARAMS, message="Invalid cursor: tools/list returns a single page")
    await _refresh_stale_remote_tools(request, gateway)
    return _listing(gateway.workspace)


async def _refresh_stale_remote_tools(request: Request, gateway: GatewayRequest) -> None:
    servers = gateway.workspace.tools.remote_servers
    if servers:
        state = request.app.state
        await refresh_stale_tools(state.sessionmaker, state.settings, servers)


async def _call_tool(ctx: ServerRequestContext[Any, Any], params: mcp.CallToolRequestParams) -> mcp.CallToolResult:
    gateway, request = _gateway_request(ctx)
    report = await tool_executor.call(
        request.app.state,
        gateway.principal,
        gateway.workspace.tools,
        params.name,
        params.arguments,
        ToolCallChannel.mcp,
    )
    if report.error_code == "UNKNOWN_TOOL":
        raise MCPError(code=mcp.INVALID_PARAMS, message=report.message)
    return report.to_mcp()


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin must be this deployment's public address or one the operator added (MCP_ALLOWED_HOSTS),
    not the SDK's localhost-only default."""
    public = urlsplit(settings.PUBLIC_BASE_URL)
    hosts = list(dict.fromkeys([public.netloc, *settings.MCP_ALLOWED_HOSTS]))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{public.scheme}://{host}" for host in hosts],
    )


@dataclass(frozen=True, slots=True)
class _Call:
    """A `tools/list` or `tools/call` the SDK would accept, at the protocol version it is served at."""

    method: str
    request_id: str | int
    params: dict[str, Any]
    protocol_version: str

    @property
    def modern(self) -> bool:
        return self.protocol_version in MODERN_PROTOCOL_VERSIONS


class McpGateway:
    """The MCP server, its session manager and the workspaces' cached enablements; `run()` once per
    application lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.security = transport_security(settings)
        self.workspaces = WorkspaceToolsCache()
        self.server: Server[Any] = Server(
            SERVER_NAME,
            version=version("platform-server"),
            title="Platform MCP gateway",
            instructions=INSTRUCTIONS,
            get_tool_input_schema=input_schema,
            on_list_tools=_list_tools,
            on_call_tool=_call_tool,
        )
        self.manager = StreamableHTTPSessionManager(
            app=self.server,
            json_response=True,
            stateless=True,
            security_settings=self.security,
            max_request_body_size=settings.MAX_BODY_BYTES,
        )
        # The identity 2026-07-28 results carry; serialized into each answer, so never shared with a caller.
        self._server_info = {mcp.SERVER_INFO_META_KEY: self.server.server_info_stamp}

    @asynccontextmanager
    async def run(self) -> AsyncIterator["McpGateway"]:
        """Runs the session manager in a task of its own: its task group must be entered and left by the same
        task, which a host's lifespan (entered and left by different tasks under some runners) cannot promise."""
        started = asyncio.Event()
        stopping = asyncio.Event()

        async def serve() -> None:
            try:
                async with self.manager.run():
                    started.set()
                    await stopping.wait()
            finally:
                started.set()

        task = asyncio.create_task(serve(), name="mcp-session-manager")
        await started.wait()
        if task.done():
            task.result()
        try:
            yield self
        finally:
            stopping.set()
            await task

    async def handle(self, request: Request, send: Send, gateway: GatewayRequest) -> None:
        """Refuses what is not one JSON-RPC message as JSON-RPC errors, the same for both protocol generations
        (the SDK's 2025 transport would answer a malformed envelope with -32602 and a validation dump, a wrong
        Content-Type with plain text), answers the hot path, and hands the rest to the SDK."""
        scope, receive = request.scope, request.receive
        if not _is_json(request.headers.get("content-type")):
            message = "Unsupported Media Type: Content-Type must be application/json"
            await jsonrpc_error(415, mcp.INVALID_REQUEST, message)(scope, receive, send)
            return
        body = await request.body()
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            # The SDK answers -32700 in each generation's own words.
            await self.manager.handle_request(scope, _replay(body, receive), send)
            return
        call = _hot_call(decoded, request)
        if call is not None:
            answer = await self._answer(request, gateway, call)
            if answer is not None:
                await answer(scope, receive, send)
                return
        if not _is_one_message(decoded):
            await jsonrpc_error(400, mcp.INVALID_REQUEST, _INVALID_ENVELOPE)(scope, receive, send)
            return
        scope.setdefault("state", {})["gateway"] = gateway
        await self.manager.handle_request(scope, _replay(body, receive), send)

    async def _answer(self, request: Request, gateway: GatewayRequest, call: _Call) -> Response | None:
        """The result the SDK would send, or None when the SDK must answer (it raises a JSON-RPC error)."""
        if call.method == "tools/list":
            if call.params.get("cursor") is not None:
                return None
            await _refresh_stale_remote_tools(request, gateway)
            result = gateway.workspace.listings.get(call.protocol_version)
            if result is None:
                dumped = _listing(gateway.workspace).model_dump(by_alias=True, mode="json", exclude_none=True)
                result = orjson.dumps(self._shaped("tools/list", call, dumped))
                gateway.workspace.listings[call.protocol_version] = result
            return _jsonrpc_result(call.request_id, result)
        name = call.params["name"]
        if name not in CATALOG and name not in gateway.workspace.tools.remote:
            return None
        report = await tool_executor.call(
            request.app.state,
            gateway.principal,
            gateway.workspace.tools,
            name,
            call.params.get("arguments"),
            ToolCallChannel.mcp,
        )
        wire = report.to_wire()
        if call.modern:
            wire["resultType"] = "complete"
            wire["_meta"] = {**wire.get("_meta", {}), **self._server_info}
        return _jsonrpc_result(call.request_id, orjson.dumps(wire, default=str))

    def _shaped(self, method: str, call: _Call, dumped: dict[str, Any]) -> dict[str, Any]:
        """A result in the SDK's wire form for the call's protocol version: sieved by the version's schema, and
        on 2026-07-28 marked complete and stamped with the server's identity."""
        if call.modern:
            dumped.setdefault("resultType", "complete")
        shaped = mcp_methods.serialize_server_result(method, call.protocol_version, dumped)
        if call.modern:
            shaped["_meta"] = {**shaped.get("_meta", {}), **self._server_info}
        return shaped


_HOT_METHODS = frozenset({"tools/list", "tools/call"})
_ENVELOPE_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_PARAM_HEADER_PREFIX = "mcp-param-"
_SESSION_HEADER = "mcp-session-id"


def _hot_call(message: Any, request: Request) -> _Call | None:
    """The message as a `tools/list` or `tools/call`, if it is one that the SDK would accept and dispatch to
    our handlers; None for anything else, which the SDK then answers."""
    if not (
        isinstance(message, dict)
        and message.get("method") in _HOT_METHODS
        and message.get("jsonrpc") == "2.0"
        and message.keys() <= _ENVELOPE_KEYS
    ):
        return None
    request_id, params = message.get("id"), message.get("params")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int) or not isinstance(params, dict):
        return None
    if not check_accept_headers(request)[0]:
        return None
    # Decoded once: every check below reads them, and a `Headers` lookup scans the raw list each time.
    lines = request.headers.items()
    if find_duplicated_routing_header(lines) is not None:
        return None
    # No routing header is repeated, so keeping the last of a repeated one changes nothing the checks read.
    headers = dict(lines)
    if _SESSION_HEADER in headers:
        return None
    protocol_version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
    if protocol_version in MODERN_PROTOCOL_VERSIONS:
        if not isinstance(classify_inbound_request(message, headers=headers), InboundModernRoute):
            return None
        # `Mcp-Param-*` headers are checked against the tool's schema by the SDK.
        if any(name.startswith(_PARAM_HEADER_PREFIX) for name in headers):
            return None
    elif protocol_version is None or protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
        protocol_version = protocol_version or mcp.DEFAULT_NEGOTIATED_VERSION
        meta = params.get("_meta")
        # A 2026-07-28 envelope on a 2025 request is refused by the SDK.
        if isinstance(meta, Mapping) and mcp.PROTOCOL_VERSION_META_KEY in meta:
            return None
    else:
        return None
    try:
        mcp_methods.validate_client_request(message["method"], protocol_version, params)
    except (ValidationError, KeyError, ValueError):
        return None
    return _Call(message["method"], request_id, params, protocol_version)


def _jsonrpc_result(request_id: str | int, result: bytes) -> Response:
    body = b'{"jsonrpc":"2.0","id":' + orjson.dumps(request_id) + b',"result":' + result + b"}"
    return Response(body, media_type="application/json")


def jsonrpc_error(status_code: int, code: int, message: str, request_id: str | int | None = None) -> Response:
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


_REQUEST: TypeAdapter[Any] = TypeAdapter(mcp.JSONRPCRequest)
_NOTIFICATION: TypeAdapter[Any] = TypeAdapter(mcp.JSONRPCNotification)
# A client may post its answer to a server's request (2025 protocol).
_RESPONSE: TypeAdapter[Any] = TypeAdapter(mcp.JSONRPCResponse | mcp.JSONRPCError)
_INVALID_ENVELOPE = "Invalid Request: the body must be one JSON-RPC 2.0 request or notification object"


def _is_json(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == "application/json"


def _is_one_message(decoded: Any) -> bool:
    """False for JSON that is not one JSON-RPC message: a batch, a bare value, a malformed envelope."""
    if not isinstance(decoded, dict):
        return False
    # Key presence picks the kind (JSON-RPC 2.0 §4.1): a request with a malformed id is not a notification.
    kind = _RESPONSE if "method" not in decoded else _REQUEST if "id" in decoded else _NOTIFICATION
    try:
        kind.validate_python(decoded)
    except ValidationError:
        return False
    return True


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's receive channel with its already-read body handed over again first."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
