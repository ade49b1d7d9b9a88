"""Our Client ID Metadata Document: remote MCP servers' authorization servers fetch it to learn who we are when
our client id is its URL. An OAuth protocol document, so it stays out of the OpenAPI document."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from platform_server.config import Settings
from platform_server.integrations.remote_mcp.auth import CLIENT_METADATA_PATH, client_metadata_document

router = APIRouter(include_in_schema=False)

# Authorization servers cache it (the document changes only with PUBLIC_BASE_URL).
_CACHEABLE = {"Cache-Control": "public, max-age=3600"}


@router.get(CLIENT_METADATA_PATH)
async def mcp_client_metadata(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    return JSONResponse(client_metadata_document(settings.PUBLIC_BASE_URL), headers=_CACHEABLE)
