"""/api/workspaces/{id}/integrations: which integrations (and tools) a workspace may use."""

from fastapi import Request, Response

from platform_server.auth.dependencies import AdminPrincipal, CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.integrations.models import Integration, IntegrationStatus, WorkspaceIntegration
from platform_server.integrations.push.registration import follow_enablements
from platform_server.integrations.schemas import (
    WorkspaceIntegrationEnable,
    WorkspaceIntegrationEnabled,
    WorkspaceIntegrationList,
    WorkspaceIntegrationRead,
    WorkspaceIntegrationUpdate,
)
from platform_server.integrations.service import integration_service
from platform_server.pagination import PageDep, Pagination
from platform_server.routing import PrefixedRouter
from platform_server.schemas import Message

router = PrefixedRouter(prefix="/api/workspaces", tags=["integrations"], responses=error_responses(401, 404, 422))


async def _reconcile_push(request: Request, session: SessionDep, integration: Integration) -> None:
    """The provider webhooks follow the enablements and their defaultProject (see integrations/push)."""
    state = request.app.state
    await follow_enablements(session, state.settings, state.encryptor, state.token_manager, integration)


def _read(access: WorkspaceIntegration, integration: Integration) -> WorkspaceIntegrationRead:
    return WorkspaceIntegrationRead(
        id=integration.id,
        provider=integration.provider,
        name=integration.name,
        status=IntegrationStatus(integration.status),
        enabled=access.enabled,
        enabled_tools=access.enabled_tools,
        default_project=access.default_project,
        sync_interval_minutes=access.sync_interval_minutes,
        next_sync_at=access.next_sync_at,
    )


@router.get(
    "/{workspace_id}/integrations",
    operation_id="listWorkspaceIntegrations",
    summary="List the integrations enabled for a workspace",
)
async def list_workspace_integrations(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep, workspace_id: str
) -> WorkspaceIntegrationList:
    rows, total = await integration_service.workspace_integrations(session, principal, workspace_id, page)
    return WorkspaceIntegrationList(
        integrations=[_read(access, integration) for access, integration in rows],
        count=total,
        pagination=Pagination.of(page, total),
    )


@router.post(
    "/{workspace_id}/integrations",
    status_code=201,
    operation_id="enableWorkspaceIntegration",
    summary="Enable an integration for a workspace",
    responses={
        200: {"model": WorkspaceIntegrationEnabled, "description": "Already enabled: updated, same accessId"},
        **error_responses(403, 409),
    },
)
async def enable_workspace_integration(
    principal: AdminPrincipal,
    session: SessionDep,
    request: Request,
    response: Response,
    workspace_id: str,
    body: WorkspaceIntegrationEnable,
) -> WorkspaceIntegrationEnabled:
    """Only a connected integration of the team can be enabled, and one per provider per workspace.
    `enabledTools` are tool names of the integration's provider (see `GET /api/integrations/providers`);
    omitted means all of them. Enabling again updates the enablement and answers 200 with the same
    `accessId`. Needs the admin or owner role."""
    access, created = await integration_service.enable(session, principal, workspace_id, body)
    await _reconcile_push(request, session, await integration_service.get(session, principal, access.integration_id))
    if not created:
        response.status_code = 200
    return WorkspaceIntegrationEnabled(message="Integration enabled for workspace", access_id=access.id)


@router.patch(
    "/{workspace_id}/integrations/{integration_id}",
    operation_id="updateWorkspaceIntegration",
    summary="Change a workspace's tools, default project or enabled flag for an integration",
    responses=error_responses(403),
)
async def update_workspace_integration(
    principal: AdminPrincipal,
    session: SessionDep,
    request: Request,
    workspace_id: str,
    integration_id: str,
    body: WorkspaceIntegrationUpdate,
) -> WorkspaceIntegrationRead:
    access, integration = await integration_service.update_access(
        session, principal, workspace_id, integration_id, body
    )
    await _reconcile_push(request, session, integration)
    return _read(access, integration)


@router.delete(
    "/{workspace_id}/integrations/{integration_id}",
    operation_id="disableWorkspaceIntegration",
    summary="Remove an integration from a workspace",
    responses=error_responses(403),
)
async def disable_workspace_integration(
    principal: AdminPrincipal, session: SessionDep, request: Request, workspace_id: str, integration_id: str
) -> Message:
    await integration_service.disable(session, principal, workspace_id, integration_id)
    await _reconcile_push(request, session, await integration_service.get(session, principal, integration_id))
    return Message(message="Integration disabled for workspace")
