from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.dependencies import AdminPrincipal, CurrentPrincipal
from platform_server.auth.principal import Principal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.integrations.catalog import provider_catalog
from platform_server.integrations.models import Integration, IntegrationStatus
from platform_server.integrations.remote_mcp.schemas import RemoteMcpIntegrationCreate, RemoteServerRead
from platform_server.integrations.remote_mcp.service import remote_mcp_service
from platform_server.integrations.schemas import (
    AnyIntegrationCreate,
    IntegrationCreated,
    IntegrationDetail,
    IntegrationList,
    IntegrationRead,
    PendingIntegration,
    ProviderCatalog,
    ProviderName,
    RemoteIntegrationDetail,
    RemoteIntegrationRead,
    RemotePendingIntegration,
    SyncLogRead,
)
from platform_server.integrations.service import IntegrationDeps, integration_service
from platform_server.limits.dependencies import PublicRateLimit
from platform_server.pagination import PageDep, Pagination
from platform_server.routing import PrefixedRouter
from platform_server.schemas import Message

# The OAuth callback answers only redirects, so the usual error responses are declared per route.
router = PrefixedRouter(prefix="/api/integrations", tags=["integrations"])


def integration_deps(request: Request) -> IntegrationDeps:
    state = request.app.state
    return IntegrationDeps(
        settings=state.settings,
        encryptor=state.encryptor,
        provider_http=state.provider_http,
        token_manager=state.token_manager,
    )


DepsDep = Annotated[IntegrationDeps, Depends(integration_deps)]


@router.get(
    "",
    operation_id="listIntegrations",
    summary="List the team's integrations",
    responses=error_responses(401, 422),
)
async def list_integrations(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    status: Annotated[IntegrationStatus | None, Query(description="Only integrations with this status")] = None,
    provider: Annotated[ProviderName | None, Query(description="Only integrations of this provider")] = None,
) -> IntegrationList:
    """Newest first. Tokens are never part of any response."""
    integrations, total = await integration_service.list(
        session, principal, page, status.value if status else None, provider.value if provider else None
    )
    remote = await remote_mcp_service.reads(session, principal.team_id, integrations)
    return IntegrationList(
        integrations=[_read(integration, remote) for integration in integrations],
        count=total,
        pagination=Pagination.of(page, total),
    )


@router.post(
    "",
    status_code=201,
    operation_id="createIntegration",
    summary="Create an integration: start a provider's OAuth flow, or connect a remote MCP server",
    responses=error_responses(400, 401, 403, 409, 422, 502),
)
async def create_integration(
    principal: AdminPrincipal, session: SessionDep, deps: DepsDep, body: AnyIntegrationCreate
) -> IntegrationCreated:
    """A provider (`{"provider": "github"}`) answers the pending integration and `oauthUrl`: open it in the
    user's browser. The provider sends the browser back to `/api/integrations/oauth/callback`, which connects
    the integration. The authorization expires after 10 minutes.

    A remote MCP server (`{"kind": "mcp", "name", "url", "transport", "auth"}`) with auth type `none`,
    `bearer` or `header` is asked who it is and which tools it offers, then answered connected (`oauthUrl` null)
    with its tools approved as they are now and enabled nowhere yet; a server that cannot be reached answers 502
    `UPSTREAM_UNAVAILABLE`, one on a private address 400 unless the operator allows it
    (`REMOTE_MCP_ALLOW_PRIVATE`).

    With auth type `oauth` the server's authorization server is discovered from its 401 challenge (protected
    resource metadata, then authorization server metadata), and the platform registers there: with the
    pre-registered `clientId` (and `clientSecret`) when given, else with its Client ID Metadata Document
    (`/oauth/mcp-client-metadata.json`) where the authorization server accepts one, else by dynamic
    registration. The answer is the pending integration and `oauthUrl` (PKCE S256, the `resource` indicator,
    `scopes` or those the server names); the authorization server sends the browser back to
    `/api/integrations/mcp/callback`, and the integration is connected with its tools approved as they are then.
    A server that answers without authorization is a 400; one whose authorization cannot start a 502.
    Needs the admin or owner role."""
    if isinstance(body, RemoteMcpIntegrationCreate):
        integration, oauth_url = await remote_mcp_service.create(
            session, principal, deps.settings, deps.encryptor, body
        )
        return await _remote_created(session, principal, integration, oauth_url)
    integration, oauth_url = await integration_service.create(session, principal, deps, body)
    return IntegrationCreated(integration=PendingIntegration.model_validate(integration), oauth_url=oauth_url)


async def _remote_created(
    session: AsyncSession, principal: Principal, integration: Integration, oauth_url: str | None
) -> IntegrationCreated:
    remote = await remote_mcp_service.reads(session, principal.team_id, [integration])
    pending = PendingIntegration.model_validate(integration).model_dump()
    return IntegrationCreated(
        integration=RemotePendingIntegration(**pending, remote_server=remote[integration.id]), oauth_url=oauth_url
    )


@router.post(
    "/{integration_id}/reconnect",
    operation_id="reconnectIntegration",
    summary="Authorize a remote MCP server connected with OAuth again",
    responses=error_responses(401, 403, 404, 409),
)
async def reconnect_integration(
    principal: AdminPrincipal, session: SessionDep, deps: DepsDep, integration_id: str
) -> IntegrationCreated:
    """For a remote MCP server connected with auth type `oauth` whose grant expired or was revoked (its status
    is `expired`): answers `oauthUrl` to open in the user's browser, as at creation. The callback connects the
    same integration again: its id, tools, approvals and workspace enablements are kept (a tool whose
    definition changed meanwhile waits for approval). 409 for a server that is not authorized with OAuth. A
    provider is reconnected by creating it again with the same account. Needs the admin or owner role."""
    integration, oauth_url = await remote_mcp_service.reauthorize(
        session, principal, deps.settings, deps.encryptor, integration_id
    )
    return await _remote_created(session, principal, integration, oauth_url)


@router.get(
    "/providers",
    operation_id="listIntegrationProviders",
    summary="List the providers that can be connected",
    responses=error_responses(401),
)
async def list_providers(_principal: CurrentPrincipal, deps: DepsDep) -> ProviderCatalog:
    """Each provider with its category, default scopes, whether the server has its OAuth credentials, and the
    tools it brings (with their JSON Schemas)."""
    providers = provider_catalog(deps.settings)
    return ProviderCatalog(providers=providers, count=len(providers))


_Handler = Callable[..., Awaitable[RedirectResponse]]


def _callback_route(path: str, operation_id: str, summary: str, success: str) -> Callable[[_Handler], _Handler]:
    return router.get(
        path,
        operation_id=operation_id,
        summary=summary,
        response_class=RedirectResponse,
        status_code=302,
        dependencies=[PublicRateLimit],
        responses={
            302: {
                "description": "To `/settings/oauth/callback` with the same `code`, `state` and `error`; from there "
                f"to `/settings/integrations?success={success}` or `?error=<code>`"
            }
        },
    )


@_callback_route(
    "/mcp/callback",
    "completeRemoteMcpOAuth",
    "A remote MCP server's OAuth callback (redirects to the settings page, which finishes it)",
    "mcp",
)
@_callback_route(
    "/oauth/callback",
    "completeIntegrationOAuth",
    "OAuth callback (redirects to the settings page, which finishes the authorization)",
    "<provider>",
)
async def oauth_callback(
    deps: DepsDep,
    code: Annotated[str | None, Query(description="Authorization code")] = None,
    state: Annotated[str | None, Query(description="The state issued with the authorization URL")] = None,
    error: Annotated[str | None, Query(description="Error code, when the authorization failed")] = None,
) -> RedirectResponse:
    """Called by the provider in the user's browser. The authorization is finished by the settings page, in a
    browser signed in (`/settings/sign-in`) as the user who started it; a browser that is not signed in is asked
    to sign in first. Error codes: `invalid_state` (unknown, expired, used or altered state; nothing changed),
    `wrong_account` (signed in as another user; nothing changed), `access_denied` and other provider errors,
    `invalid_grant` (code exchange refused), `account_lookup_failed`; for a remote MCP server (its callback is
    `/api/integrations/mcp/callback`) also `token_exchange_failed` and `upstream_unavailable` (authorized, but
    the server could not be asked for its tools with the new token). An authorization that fails removes the
    pending integration it was for: nothing was connected; a remote server's reconnection keeps it as it was."""
    location = integration_service.settings_callback_url(deps.settings, code=code, state=state, error=error)
    # The URL carried a code and a state; keep it out of caches and Referer headers.
    return RedirectResponse(
        location, status_code=302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@router.get(
    "/{integration_id}",
    operation_id="getIntegration",
    summary="Get an integration with its sync logs",
    responses=error_responses(401, 404),
)
async def get_integration(
    principal: CurrentPrincipal, session: SessionDep, integration_id: str
) -> RemoteIntegrationDetail | IntegrationDetail:
    integration = await integration_service.get(session, principal, integration_id)
    logs = await integration_service.sync_logs(session, principal, integration.id)
    detail = IntegrationDetail(
        id=integration.id,
        provider=integration.provider,
        name=integration.name,
        status=IntegrationStatus(integration.status),
        scopes=integration.scopes,
        last_sync_at=integration.last_sync_at,
        sync_logs=[SyncLogRead.model_validate(log) for log in logs],
    )
    server = (await remote_mcp_service.reads(session, principal.team_id, [integration])).get(integration.id)
    if server is None:
        return detail
    return RemoteIntegrationDetail(**detail.model_dump(), remote_server=server)


def _read(integration: Integration, remote: Mapping[str, RemoteServerRead]) -> IntegrationRead:
    read = IntegrationRead.model_validate(integration)
    server = remote.get(integration.id)
    if server is None:
        return read
    return RemoteIntegrationRead(**read.model_dump(), remote_server=server)


@router.delete(
    "/{integration_id}",
    operation_id="deleteIntegration",
    summary="Disconnect and delete an integration",
    responses=error_responses(401, 403, 404),
)
async def delete_integration(
    principal: AdminPrincipal, session: SessionDep, deps: DepsDep, integration_id: str
) -> Message:
    """Revokes the grant at the provider where it offers revocation, removes the integration from every
    workspace, and keeps the work items it imported. Needs the admin or owner role."""
    await integration_service.delete(session, principal, deps, integration_id)
    return Message(message="Integration deleted")
