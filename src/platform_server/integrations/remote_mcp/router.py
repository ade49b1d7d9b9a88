"""/api/integrations/{id}/tools: a remote MCP server's tools, their approval status, refresh and approval."""

from typing import Annotated

from fastapi import Path

from platform_server.auth.dependencies import AdminPrincipal, CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.integrations.remote_mcp.schemas import RemoteToolList, RemoteToolRead
from platform_server.integrations.remote_mcp.service import remote_mcp_service
from platform_server.integrations.router import DepsDep
from platform_server.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/integrations", tags=["integrations"])

ToolNamePath = Annotated[str, Path(min_length=1, max_length=200, description="The tool's upstream name")]


@router.get(
    "/{integration_id}/tools",
    operation_id="listRemoteMcpTools",
    summary="List a remote MCP server's tools with their approval status",
    responses=error_responses(401, 404),
)
async def list_remote_tools(
    principal: CurrentPrincipal, session: SessionDep, deps: DepsDep, integration_id: str
) -> RemoteToolList:
    """Every tool the server offers: `approved` (can be enabled and called), `changed` (its definition changed
    upstream since it was approved: withheld everywhere until approved again; `changes` shows approved and
    current values), `new` (appeared after the server was connected; approve it before enabling it) or
    `refused` (its name breaks MCP's rules, its definition is too large, or it poses as a native tool;
    `refusal` says which). Asks the server again when the listing is older than
    `REMOTE_MCP_TOOLS_TTL_SECONDS`; `refreshError` says why that failed, if it did. 404 for anything but a
    remote MCP server of the caller's team."""
    return await remote_mcp_service.tools(
        session, principal, deps.settings, deps.encryptor, deps.token_manager, integration_id
    )


@router.post(
    "/{integration_id}/tools/refresh",
    operation_id="refreshRemoteMcpTools",
    summary="Ask a remote MCP server for its tools now",
    responses=error_responses(400, 401, 403, 404, 502),
)
async def refresh_remote_tools(
    principal: AdminPrincipal, session: SessionDep, deps: DepsDep, integration_id: str
) -> RemoteToolList:
    """A changed definition withholds its tool at once; a new tool waits for approval. 502
    `UPSTREAM_UNAVAILABLE` when the server cannot be asked (nothing changes). Needs the admin or owner role."""
    return await remote_mcp_service.refresh(
        session, principal, deps.settings, deps.encryptor, deps.token_manager, integration_id
    )


@router.post(
    "/{integration_id}/tools/{tool_name}/approve",
    operation_id="approveRemoteMcpTool",
    summary="Approve a remote MCP tool's current definition",
    responses=error_responses(401, 403, 404, 409),
)
async def approve_remote_tool(
    principal: AdminPrincipal, session: SessionDep, integration_id: str, tool_name: ToolNamePath
) -> RemoteToolRead:
    """Workspaces that enabled it are served the current definition from now on. A `refused` tool cannot be
    approved (409). Needs the admin or owner role."""
    return await remote_mcp_service.approve(session, principal, integration_id, tool_name)
