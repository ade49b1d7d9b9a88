from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from platform_server.features.models import Feature
from platform_server.pagination import PageParams
from platform_server.repository import ModelT, TeamScopedRepository
from platform_server.sqlite_inline import PreparedStatement
from platform_server.work_items.models import WorkItem


class SourcedItemRepository(TeamScopedRepository[ModelT]):
    async def list_page(
        self, params: PageParams, workspace_id: str | None, filters: dict[str, Any]
    ) -> tuple[Sequence[dict[str, Any]], int]:
        """Plain dicts of every column by name rather than ORM objects: this is the hottest read of the API.

        The statement is built once per combination of filters and bound with parameters, so a request pays
        neither statement construction nor ORM object creation; the routers write the dicts to JSON as they
        are (`PageJson`, see bench/bench_features.py).
        """
        active = tuple(sorted(column for column, value in filters.items() if value is not None))
        values: dict[str, Any] = {f"filter_{column}": filters[column] for column in active}
        values.update(team_id=self.team_id, workspace_id=workspace_id, limit=params.limit, offset=params.offset)
        # Past the ORM's execute (events, loader options, identity map), which a plain Core select of columns
        # does not use and which cost as much as the query; on SQLite past Core's execute as well, and outside
        # the session's transaction when it has not begun one (PreparedStatement.read).
        listing = self._listing(workspace_id is not None, active)
        rows = await listing.read(self.session, values)
        if rows:
            return rows, int(rows[0]["total"])
        if params.page == 1:
            return [], 0
        counted = listing.statement.with_only_columns(func.count()).order_by(None)
        total = await self.session.scalar(counted.limit(None).offset(None), values)
        return [], int(total or 0)

    @classmethod
    @cache
    def _listing(cls, by_workspace: bool, filter_columns: tuple[str, ...]) -> PreparedStatement[Select[Any]]:
        table = cls.model.__table__
        counted = table.alias("counted")

        def matching(source: Any) -> list[Any]:
            conditions = [source.c.team_id == bindparam("team_id")]
            if by_workspace:
                conditions.append(source.c.workspace_id == bindparam("workspace_id"))
            conditions += [source.c[column] == bindparam(f"filter_{column}") for column in filter_columns]
            return conditions

        # The total as a scalar subquery rather than `count() over ()`: the window makes SQLite materialise and
        # sort every matching row again, the subquery is one count on the same index.
        total = select(func.count()).select_from(counted).where(*matching(counted)).scalar_subquery()
        statement = select(*table.c, total.label("total")).where(*matching(table))
        return PreparedStatement(
            statement.order_by(table.c.id.desc()).limit(bindparam("limit")).offset(bindparam("offset"))
        )


class WorkItemRepository(SourcedItemRepository[WorkItem]):
    model = WorkItem


class FeatureRepository(SourcedItemRepository[Feature]):
    model = Feature
