"""The MCP side of the gateway: one low-level `mcp` Server whose handlers serve the workspace of the request.

The HTTP route authenticates the caller and loads the workspace's enablements, then hands the exchange to the
SDK's Streamable HTTP session manager, stateless with JSON responses: 2026-07-28 clients (`server/discover`,
per-request envelopes) and 2025-era clients (`initialize`) are served by the same endpoint, no request depends
on an earlier one, and any process can answer any request (no sticky routing).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

import mcp_types as mcp
import orjson
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.gateway.executor import input_schema, tool_executor
from platform_server.gateway.models import ToolCallChannel
from platform_server.gateway.repository import WorkspaceTools

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
    workspace: WorkspaceTools


def _gateway_request(ctx: ServerRequestContext[Any, Any]) -> tuple[GatewayRequest, Request]:
    # The ASGI scope survives the SDK's task boundaries, so it carries the context rather than a ContextVar.
    request = ctx.request
    gateway = request.scope.get("state", {}).get("gateway") if isinstance(request, Request) else None
    if not isinstance(gateway, GatewayRequest):
        raise MCPError(code=mcp.INVALID_REQUEST, message="The gateway is served only at /api/workspaces/{id}/mcp")
    assert isinstance(request, Request)
    return gateway, request


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: mcp.PaginatedRequestParams | None
) -> mcp.ListToolsResult:
    gateway, _ = _gateway_request(ctx)
    if params is not None and params.cursor is not None:
        # Every list fits one page, so no cursor was ever handed out.
        raise MCPError(code=mcp.INVALID_PARAMS, message="Invalid cursor: tools/list returns a single page")
    return mcp.ListToolsResult(
        tools=tool_executor.enabled_tools(gateway.workspace), cache_scope="private", ttl_ms=_LIST_TTL_MS
    )


async def _call_tool(ctx: ServerRequestContext[Any, Any], params: mcp.CallToolRequestParams) -> mcp.CallToolResult:
    gateway, request = _gateway_request(ctx)
    report = await tool_executor.call(
        request.app.state, gateway.principal, gateway.workspace, params.name, params.arguments, ToolCallChannel.mcp
    )
    if report.error_code == "UNKNOWN_TOOL":
        raise MCPError(code=mcp.INVALID_PARAMS, message=report.message)
    return report.to_mcp()


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin must be this deployment's public address, not the SDK's localhost-only default."""
    public = urlsplit(settings.PUBLIC_BASE_URL)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[public.netloc],
        allowed_origins=[f"{public.scheme}://{public.netloc}"],
    )


class McpGateway:
    """The MCP server and its session manager; `run()` once per application lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.security = transport_security(settings)
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

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuses what is not one JSON-RPC message as JSON-RPC errors, the same for both protocol generations
        (the SDK's 2025 transport would answer a malformed envelope with -32602 and a validation dump, a wrong
        Content-Type with plain text), then hands the exchange to the SDK."""
        request = Request(scope, receive)
        if not _is_json(request.headers.get("content-type")):
            await jsonrpc_error(
                415, mcp.INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json"
            )(scope, receive, send)
            return
        body = await request.body()
        if not _is_one_message(body):
            await jsonrpc_error(400, mcp.INVALID_REQUEST, _INVALID_ENVELOPE)(scope, receive, send)
            return
        await self.manager.handle_request(scope, _replay(body, receive), send)


_REQUEST: TypeAdapter[Any] = TypeAdapter(mcp.JSONRPCRequest)
_NOTIFICATION: TypeAdapter[Any] = TypeAdapter(mcp.JSONRPCNotification)
# A client may post its answer to a server's request (2025 protocol).
_RESPONSE: TypeAdapter[Any] = TypeAdapter(mcp.JSONRPCResponse | mcp.JSONRPCError)
_INVALID_ENVELOPE = "Invalid Request: the body must be one JSON-RPC 2.0 request or notification object"


def jsonrpc_error(status_code: int, code: int, message: str, request_id: str | int | None = None) -> Response:
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


def _is_json(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == "application/json"


def _is_one_message(body: bytes) -> bool:
    """False for JSON that is not one JSON-RPC message (a batch, a wrong envelope); a body that is not JSON at all
    is left to the SDK, which answers it with -32700."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return True
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
