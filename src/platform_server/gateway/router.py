from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
import structlog
from fastapi import Body, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from platform_server.auth.dependencies import CurrentPrincipal, current_principal
from platform_server.auth.principal import Principal
from platform_server.db import SessionDep, get_session
from platform_server.errors import Forbidden, PlatformError, ResourceNotFound, Unauthorized, error_responses
from platform_server.exception_handlers import error_json
from platform_server.gateway.audit import audit_service
from platform_server.gateway.cache import CachedWorkspace
from platform_server.gateway.dependencies import AuditWritten
from platform_server.gateway.executor import CATALOG, ToolErrorCode, ToolReport, tool_executor
from platform_server.gateway.models import ToolCallChannel, ToolCallOutcome
from platform_server.gateway.schemas import ProtectedResourceMetadata, ToolCallRead, ToolCallResult
from platform_server.gateway.server import GatewayRequest, McpGateway
from platform_server.ids import is_valid_id
from platform_server.limits.limiter import request_limiter
from platform_server.oauth_server.service import (
    ACCESS_TOKEN_PREFIX,
    ALL_SCOPES,
    MCP_PATH,
    SCOPE_READ,
    SCOPE_WRITE,
    InvalidToken,
    mcp_url,
    oauth_server_service,
)
from platform_server.pagination import PageDep, Paginated, Pagination
from platform_server.routing import PrefixedRouter

router = PrefixedRouter(tags=["mcp-gateway"])

METADATA_PREFIX = "/.well-known/oauth-protected-resource"

# REST form: the HTTP status each tool failure answers with (the MCP form answers them all as isError results).
_REST_STATUS = {
    ToolErrorCode.unknown_tool: 404,
    ToolErrorCode.tool_not_enabled: 403,
    ToolErrorCode.integration_not_connected: 409,
    ToolErrorCode.integration_expired: 409,
    ToolErrorCode.invalid_arguments: 422,
    ToolErrorCode.rate_limited: 429,
    ToolErrorCode.provider_not_found: 404,
    ToolErrorCode.provider_forbidden: 403,
    ToolErrorCode.provider_rate_limited: 429,
    ToolErrorCode.provider_bad_request: 400,
    ToolErrorCode.provider_unavailable: 502,
    ToolErrorCode.tool_changed_upstream: 409,
    ToolErrorCode.upstream_timeout: 504,
    ToolErrorCode.upstream_too_large: 502,
    ToolErrorCode.upstream_unavailable: 502,
    ToolErrorCode.upstream_tool_error: 502,
    ToolErrorCode.internal_error: 500,
}


class MisdirectedRequest(PlatformError):
    status_code = 421
    code = "MISDIRECTED_REQUEST"


class InsufficientScope(PlatformError):
    status_code = 403
    code = "INSUFFICIENT_SCOPE"


def _metadata_url(request: Request, workspace_id: str) -> str:
    base = request.app.state.settings.PUBLIC_BASE_URL
    return f"{base}{METADATA_PREFIX}{MCP_PATH.format(workspace_id=workspace_id)}"


def _check_host_and_origin(request: Request) -> None:
    """DNS-rebinding protection before anything else, with the same settings the SDK enforces."""
    security = request.app.state.mcp_gateway.security
    if request.headers.get("host") not in security.allowed_hosts:
        raise MisdirectedRequest(
            "The Host header is neither this server's public address (PUBLIC_BASE_URL) nor one of MCP_ALLOWED_HOSTS",
            details={"allowedHosts": security.allowed_hosts},
        )
    origin = request.headers.get("origin")
    if origin is not None and origin not in security.allowed_origins:
        raise Forbidden("Requests from this Origin are not allowed", details={"origin": origin})


def _challenge(request: Request, workspace_id: str, **params: str) -> dict[str, str]:
    """RFC 6750 §3 / RFC 9728 §5.1: what the client needs to authenticate here, and the scopes to ask for."""
    values = {**params, "resource_metadata": _metadata_url(request, workspace_id), "scope": " ".join(ALL_SCOPES)}
    return {"WWW-Authenticate": "Bearer " + ", ".join(f'{name}="{value}"' for name, value in values.items())}


async def _mcp_principal(request: Request, session: AsyncSession, workspace_id: str) -> Principal:
    """An API key, or an access token this server issued for this workspace's MCP URL."""
    _check_host_and_origin(request)
    scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
    token = credentials.strip()
    if scheme.lower() != "bearer" or not token.startswith(ACCESS_TOKEN_PREFIX):
        try:
            return await current_principal(request, session, request.app.state.principal_cache)
        except Unauthorized as exc:
            raise Unauthorized(exc.message, details=exc.details, headers=_challenge(request, workspace_id)) from None
    limiter = request_limiter(request.app.state)
    guard = limiter.auth_failure_guard(request.scope)
    if guard is not None:
        await guard.before_lookup()
    try:
        principal = await oauth_server_service.principal_for(session, request.app.state.settings, token, workspace_id)
    except InvalidToken as exc:
        if guard is not None:
            await guard.failed()
        challenge = _challenge(request, workspace_id, error="invalid_token", error_description=str(exc))
        raise Unauthorized(str(exc), headers=challenge) from None
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(user_id=principal.user_id, team_id=principal.team_id)
    await limiter.enforce(request.scope, principal, session)
    return principal


async def _check_scope(request: Request, principal: Principal, workspace: CachedWorkspace) -> None:
    """A token granted read-only tools calling a writing tool is refused before the call, so the client can
    ask the person for more (step-up authorization)."""
    if principal.oauth_client_id is None or SCOPE_WRITE in principal.oauth_scopes:
        return
    try:
        message = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    if not isinstance(name, str):
        return
    tool = CATALOG.get(name)
    remote = workspace.tools.remote.get(name)
    # A remote tool counts as changing data unless its approved annotations say it only reads.
    writes = (tool is not None and not tool.spec.read_only) or (remote is not None and not remote.read_only)
    if writes:
        raise InsufficientScope(
            f"{name} changes data: it needs the {SCOPE_WRITE} scope, and this token has only {SCOPE_READ}",
            details={"requiredScope": SCOPE_WRITE},
            headers=_challenge(request, workspace.tools.workspace_id, error="insufficient_scope"),
        )


# The request's unit of work as `SessionDep` runs it (commit on success, rollback on failure), entered here
# rather than solved as dependencies: it ends before the exchange, which may run a tool for a long time.
_unit_of_work = asynccontextmanager(get_session)


class _McpExchange(Response):
    """Hands the raw exchange to the gateway once the route has authenticated it and closed its DB session."""

    def __init__(self, gateway: McpGateway, request: Request, context: GatewayRequest) -> None:
        super().__init__()
        self.gateway = gateway
        self.request = request
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gateway.handle(self.request, send, self.context)


_JSONRPC_RESPONSE = {
    "description": "A JSON-RPC response (`Content-Type: application/json`), or 202 for a notification",
    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
}


@router.post(
    MCP_PATH,
    operation_id="mcpGateway",
    summary="MCP endpoint of a workspace (Streamable HTTP)",
    response_class=Response,
    responses={200: _JSONRPC_RESPONSE, **error_responses(401, 403, 404, 413)},
)
async def mcp_gateway(request: Request, workspace_id: str) -> Response:
    """One JSON-RPC message per POST: `server/discover` (2026-07-28) or `initialize` (2025 clients),
    `tools/list` and `tools/call`. Authenticate with an API key of a member of the workspace's team, or with an
    OAuth access token this server issued for this endpoint (401 with `WWW-Authenticate` pointing at the
    metadata; 403 `insufficient_scope` when a read-only token calls a tool that changes data). The list
    holds the tools enabled for this workspace on connected integrations; calls run with the team's stored
    provider credentials, never with the caller's key, and are audited (`GET .../tool-calls`). A body that is
    not one JSON-RPC message, or not `application/json` (415), answers a JSON-RPC error."""
    gateway: McpGateway = request.app.state.mcp_gateway
    async with _unit_of_work(request) as session:
        principal = await _mcp_principal(request, session, workspace_id)
        workspace = await gateway.workspaces.get(session, principal.team_id, workspace_id)
    if workspace is None:
        raise ResourceNotFound("Workspace", workspace_id)
    await _check_scope(request, principal, workspace)
    return _McpExchange(gateway, request, GatewayRequest(principal=principal, workspace=workspace))


@router.get(
    f"{METADATA_PREFIX}{MCP_PATH}",
    operation_id="getMcpProtectedResourceMetadata",
    summary="RFC 9728 protected-resource metadata of a workspace's MCP endpoint",
    responses=error_responses(404),
)
async def protected_resource_metadata(request: Request, workspace_id: str) -> ProtectedResourceMetadata:
    """Public: tells an MCP client which authorization server issues tokens for this endpoint (this server,
    see `/.well-known/oauth-authorization-server`) and which scopes it knows. An API key works as the bearer
    token too."""
    if not is_valid_id(workspace_id):
        raise ResourceNotFound("Workspace", workspace_id)
    base = request.app.state.settings.PUBLIC_BASE_URL
    return ProtectedResourceMetadata(
        resource=mcp_url(request.app.state.settings, workspace_id),
        authorization_servers=[base],
        bearer_methods_supported=["header"],
        scopes_supported=list(ALL_SCOPES),
        resource_name="Platform MCP gateway",
        resource_documentation=f"{base}/docs",
    )


@router.post(
    "/api/workspaces/{workspace_id}/tools/{tool_name}",
    operation_id="callTool",
    summary="Call a tool (REST form of the MCP gateway)",
    responses=error_responses(400, 401, 403, 404, 409, 422, 429),
)
async def call_tool(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    workspace_id: str,
    tool_name: str,
    arguments: Annotated[
        dict[str, Any],
        Body(description="The tool's arguments, per its input schema", examples=[{"repo": "acme/product"}]),
    ],
) -> ToolCallResult:
    """Runs the tool exactly as MCP `tools/call` does, audited the same way. A failure answers in the error
    format with a code such as `TOOL_NOT_ENABLED`, `INVALID_ARGUMENTS`, `PROVIDER_NOT_FOUND`,
    `PROVIDER_RATE_LIMITED` (with `Retry-After`) or `INTEGRATION_EXPIRED`."""
    workspace = await tool_executor.load_workspace(session, principal, workspace_id)
    # The tool runs outside this request's transaction: its token refresh and its audit row commit on their
    # own, and an open write here (the key's last-used time) would block them on SQLite until it ends.
    await session.commit()
    report = await tool_executor.call(
        request.app.state, principal, workspace, tool_name, arguments, ToolCallChannel.rest
    )
    if report.passthrough is not None:
        # A remote server's result, as it answered it (its isError included).
        return ToolCallResult(tool=report.tool, tool_call_id=report.tool_call_id, result=report.passthrough)
    if not report.ok:
        return _rest_error(report)  # type: ignore[return-value]
    return ToolCallResult(tool=report.tool, tool_call_id=report.tool_call_id, result=report.result or {})


def _rest_error(report: ToolReport) -> JSONResponse:
    assert report.error_code is not None
    details: dict[str, Any] = {"tool": report.tool, "toolCallId": report.tool_call_id, **report.details}
    headers = None
    if report.retry_after_seconds is not None:
        details["retryAfterSeconds"] = report.retry_after_seconds
        headers = {"Retry-After": str(report.retry_after_seconds)}
    return error_json(_REST_STATUS[report.error_code], report.error_code, report.message, details, headers)


@router.get(
    "/api/workspaces/{workspace_id}/tool-calls",
    operation_id="listToolCalls",
    summary="List a workspace's audited tool calls",
    responses=error_responses(401, 404, 422),
)
async def list_tool_calls(
    _written: AuditWritten,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    workspace_id: str,
    tool: Annotated[str | None, Query(description="Only calls of this tool, e.g. `github_list_issues`")] = None,
    outcome: Annotated[ToolCallOutcome | None, Query(description="Only calls with this outcome")] = None,
) -> Paginated[ToolCallRead]:
    """Newest first, from MCP and the REST form alike. Argument names are listed; their values are never
    stored."""
    calls, total = await audit_service.list(session, principal, workspace_id, tool, outcome, page)
    return Paginated[ToolCallRead](
        data=[ToolCallRead.model_validate(call) for call in calls], pagination=Pagination.of(page, total)
    )
