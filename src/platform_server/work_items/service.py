from collections.abc import Sequence
from typing import Any, Generic

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.errors import ResourceNotFound
from platform_server.pagination import PageParams
from platform_server.repository import ModelT
from platform_server.work_items.models import WorkItem
from platform_server.work_items.repository import SourcedItemRepository, WorkItemRepository
from platform_server.workspaces.service import workspace_service


class SourcedItemService(Generic[ModelT]):
    """Create, read, update and delete for workspace items (work items, features), always team-scoped."""

    def __init__(self, repository_class: type[SourcedItemRepository[ModelT]], resource_name: str) -> None:
        self.repository_class = repository_class
        self.resource_name = resource_name

    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        params: PageParams,
        workspace_id: str | None,
        filters: dict[str, Any],
    ) -> tuple[Sequence[dict[str, Any]], int]:
        """Every column of each item by name, in the types the response model declares."""
        page = await self.repository_class(session, principal.team_id).list_page(params, workspace_id, filters)
        # A row of this team in that workspace proves the workspace is the team's; only an empty page needs the
        # extra query that tells "no items" from "no such workspace" (404).
        if workspace_id is not None and not page[0]:
            await workspace_service.get(session, principal, workspace_id)
        return page

    async def get(self, session: AsyncSession, principal: Principal, item_id: str) -> ModelT:
        item = await self.repository_class(session, principal.team_id).get(item_id)
        if item is None:
            raise ResourceNotFound(self.resource_name, item_id)
        return item

    async def create(self, session: AsyncSession, principal: Principal, values: dict[str, Any]) -> ModelT:
        await workspace_service.get(session, principal, values["workspace_id"])
        repository = self.repository_class(session, principal.team_id)
        item = repository.add(repository.model(team_id=principal.team_id, **values))
        await session.flush()
        return item

    async def update(
        self, session: AsyncSession, principal: Principal, item_id: str, changes: dict[str, Any]
    ) -> ModelT:
        item = await self.get(session, principal, item_id)
        for field, value in changes.items():
            setattr(item, field, value)
        await session.flush()
        return item

    async def delete(self, session: AsyncSession, principal: Principal, item_id: str) -> None:
        item = await self.get(session, principal, item_id)
        await self.repository_class(session, principal.team_id).delete(item)
        await session.flush()


work_item_service = SourcedItemService[WorkItem](WorkItemRepository, "Work item")
