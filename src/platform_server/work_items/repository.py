from collections.abc import Sequence
from typing import Any

from platform_server.features.models import Feature
from platform_server.pagination import PageParams
from platform_server.repository import ModelT, TeamScopedRepository
from platform_server.work_items.models import WorkItem


class SourcedItemRepository(TeamScopedRepository[ModelT]):
    async def list_page(
        self, params: PageParams, workspace_id: str | None, filters: dict[str, Any]
    ) -> tuple[Sequence[ModelT], int]:
        statement = self.scoped()
        if workspace_id is not None:
            statement = statement.where(self.model.workspace_id == workspace_id)
        for column, value in filters.items():
            if value is not None:
                statement = statement.where(getattr(self.model, column) == value)
        return await self.paginate(statement.order_by(self.model.id.desc()), params)


class WorkItemRepository(SourcedItemRepository[WorkItem]):
    model = WorkItem


class FeatureRepository(SourcedItemRepository[Feature]):
    model = Feature
