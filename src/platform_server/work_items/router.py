from typing import Annotated

from fastapi import Query, Response

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.pagination import PageDep, PageJson, Paginated
from platform_server.routing import PrefixedRouter, PreSolvedRoute
from platform_server.schemas import Message
from platform_server.work_items.models import WorkItemStatus
from platform_server.work_items.schemas import WorkItemCreate, WorkItemRead, WorkItemUpdate
from platform_server.work_items.service import work_item_service

router = PrefixedRouter(
    prefix="/api/work-items", tags=["work-items"], responses=error_responses(401, 404, 422), route_class=PreSolvedRoute
)

_page_json = PageJson(WorkItemRead)


@router.get("", operation_id="listWorkItems", summary="List work items", response_model=Paginated[WorkItemRead])
async def list_work_items(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    workspace_id: Annotated[str | None, Query(description="Only this workspace's items")] = None,
    status: Annotated[WorkItemStatus | None, Query()] = None,
    source_provider: Annotated[
        str | None, Query(description="Only items imported from this provider, e.g. `github`")
    ] = None,
) -> Response:
    """Newest first. An unknown (or another team's) `workspace_id` answers 404."""
    items, total = await work_item_service.list(
        session, principal, page, workspace_id, {"status": status, "source_provider": source_provider}
    )
    return _page_json.response(items, page, total)


@router.post("", status_code=201, operation_id="createWorkItem", summary="Create a work item")
async def create_work_item(principal: CurrentPrincipal, session: SessionDep, body: WorkItemCreate) -> WorkItemRead:
    item = await work_item_service.create(session, principal, body.model_dump())
    return WorkItemRead.model_validate(item)


@router.get("/{work_item_id}", operation_id="getWorkItem", summary="Get a work item")
async def get_work_item(principal: CurrentPrincipal, session: SessionDep, work_item_id: str) -> WorkItemRead:
    return WorkItemRead.model_validate(await work_item_service.get(session, principal, work_item_id))


@router.patch("/{work_item_id}", operation_id="updateWorkItem", summary="Update a work item")
async def update_work_item(
    principal: CurrentPrincipal, session: SessionDep, work_item_id: str, body: WorkItemUpdate
) -> WorkItemRead:
    item = await work_item_service.update(session, principal, work_item_id, body.changes())
    return WorkItemRead.model_validate(item)


@router.delete("/{work_item_id}", operation_id="deleteWorkItem", summary="Delete a work item")
async def delete_work_item(principal: CurrentPrincipal, session: SessionDep, work_item_id: str) -> Message:
    await work_item_service.delete(session, principal, work_item_id)
    return Message(message="Work item deleted")
