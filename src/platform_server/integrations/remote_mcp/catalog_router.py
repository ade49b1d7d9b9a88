"""Where to find remote MCP servers: the curated catalog and the official MCP Registry, read-only."""

from typing import Annotated

from fastapi import Depends, Query, Request

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.errors import ErrorResponse, error_responses
from platform_server.integrations.remote_mcp.catalog import CatalogCategory, find_entries
from platform_server.integrations.remote_mcp.catalog_schemas import (
    CatalogServer,
    RegistryServerPage,
    RegistryServerRead,
)
from platform_server.integrations.remote_mcp.registry_client import MAX_PAGE_SIZE, RegistryClient
from platform_server.pagination import PageDep, Paginated, Pagination
from platform_server.routing import PrefixedRouter

# Included before the integrations router: `/api/integrations/{integration_id}` must never see `mcp`.
router = PrefixedRouter(prefix="/api/integrations/mcp", tags=["integrations"])


async def registry_client(request: Request) -> RegistryClient:
    return RegistryClient(request.app.state.settings.MCP_REGISTRY_URL)


@router.get(
    "/catalog",
    operation_id="listMcpServerCatalog",
    summary="List the curated remote MCP servers",
    responses=error_responses(401, 422),
)
async def list_catalog(
    _principal: CurrentPrincipal,
    page: PageDep,
    category: Annotated[CatalogCategory | None, Query(description="Only servers of this category")] = None,
    search: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Case-insensitive match on the id, name and description"),
    ] = None,
) -> Paginated[CatalogServer]:
    """Vendor-hosted remote MCP servers, each with the URL its vendor publishes, how it authorizes callers and its
    transport: connect one with `POST /api/integrations` (`kind: "mcp"`). Any other URL can be connected too."""
    entries = find_entries(category, search)
    window = entries[page.offset : page.offset + page.limit]
    return Paginated[CatalogServer](
        data=[CatalogServer.model_validate(entry) for entry in window], pagination=Pagination.of(page, len(entries))
    )


@router.get(
    "/registry",
    operation_id="listMcpRegistryServers",
    summary="Browse the official MCP Registry",
    responses={
        **error_responses(400, 401, 422),
        502: {"model": ErrorResponse, "description": "The registry answered something unusable"},
        503: {"model": ErrorResponse, "description": "The registry could not be reached (`MCP_REGISTRY_UNAVAILABLE`)"},
    },
)
async def list_registry_servers(
    _principal: CurrentPrincipal,
    client: Annotated[RegistryClient, Depends(registry_client)],
    search: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Substring of the server's name")
    ] = None,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=500, description="`nextCursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Servers per page, 1 to 100")] = 20,
) -> RegistryServerPage:
    """The latest version of each server in the registry at `MCP_REGISTRY_URL`, paged by the registry's own
    cursor. `connectable` marks servers with a remote endpoint the gateway can connect to; servers published as
    packages only are listed for reference. 503 `MCP_REGISTRY_UNAVAILABLE` when the registry cannot be reached
    (for instance on a machine without internet access), 502 when its answer is not the registry API's shape."""
    page = await client.list_servers(search=search, cursor=cursor, limit=limit)
    return RegistryServerPage(
        data=[RegistryServerRead.model_validate(server) for server in page.servers], next_cursor=page.next_cursor
    )
