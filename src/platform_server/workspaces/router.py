from platform_server.auth.dependencies import AdminPrincipal, CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.pagination import PageDep, Paginated, Pagination
from platform_server.routing import PrefixedRouter
from platform_server.schemas import Message
from platform_server.workspaces.schemas import WorkspaceCreate, WorkspaceRead, WorkspaceUpdate
from platform_server.workspaces.service import workspace_service

router = PrefixedRouter(prefix="/api/workspaces", tags=["workspaces"], responses=error_responses(401, 422))


@router.get("", operation_id="listWorkspaces", summary="List workspaces")
async def list_workspaces(principal: CurrentPrincipal, session: SessionDep, page: PageDep) -> Paginated[WorkspaceRead]:
    workspaces, total = await workspace_service.list(session, principal, page)
    return Paginated[WorkspaceRead](
        data=[WorkspaceRead.model_validate(w) for w in workspaces], pagination=Pagination.of(page, total)
    )


@router.post(
    "", status_code=201, operation_id="createWorkspace", summary="Create a workspace", responses=error_responses(403)
)
async def create_workspace(principal: AdminPrincipal, session: SessionDep, body: WorkspaceCreate) -> WorkspaceRead:
    """Owners and admins only."""
    return WorkspaceRead.model_validate(await workspace_service.create(session, principal, body))


@router.get("/{workspace_id}", operation_id="getWorkspace", summary="Get a workspace", responses=error_responses(404))
async def get_workspace(principal: CurrentPrincipal, session: SessionDep, workspace_id: str) -> WorkspaceRead:
    return WorkspaceRead.model_validate(await workspace_service.get(session, principal, workspace_id))


@router.patch(
    "/{workspace_id}", operation_id="updateWorkspace", summary="Update a workspace", responses=error_responses(403, 404)
)
async def update_workspace(
    principal: AdminPrincipal, session: SessionDep, workspace_id: str, body: WorkspaceUpdate
) -> WorkspaceRead:
    """Owners and admins only."""
    return WorkspaceRead.model_validate(await workspace_service.update(session, principal, workspace_id, body))


@router.delete(
    "/{workspace_id}",
    operation_id="deleteWorkspace",
    summary="Delete a workspace with its features, work items and integration enablements",
    responses=error_responses(403, 404),
)
async def delete_workspace(principal: AdminPrincipal, session: SessionDep, workspace_id: str) -> Message:
    """Owners and admins only: it also removes the workspace's integration settings and sync history."""
    await workspace_service.delete(session, principal, workspace_id)
    return Message(message="Workspace deleted")
