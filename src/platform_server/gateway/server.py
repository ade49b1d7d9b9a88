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
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

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
    """Host and Origin must be this deployment's public address or one the operator added (MCP_ALLOWED_HOSTS),
    not the SDK's localhost-only default."""
    public = urlsplit(settings.PUBLIC_BASE_URL)
    hosts = list(dict.fromkeys([public.netloc, *settings.MCP_ALLOWED_HOSTS]))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{public.scheme}://{host}" for host in hosts],
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
        await self.manager.handle_request(scope, receive, send)
