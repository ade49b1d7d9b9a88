"""Repository base: every query of a tenant-owned table goes through a team-scoped statement."""

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, CursorResult, Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from platform_server.db import Base
from platform_server.ids import is_valid_id
from platform_server.pagination import PageParams


class TeamOwned:
    id: Mapped[str]
    team_id: Mapped[str]


ModelT = TypeVar("ModelT", bound=Base)
TeamOwnedT = TypeVar("TeamOwnedT", bound=Any)


class Repository(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, obj: ModelT) -> ModelT:
        self.session.add(obj)
        return obj

    async def delete(self, obj: ModelT) -> None:
        await self.session.delete(obj)

    async def paginate(self, statement: Select[tuple[ModelT]], params: PageParams) -> tuple[Sequence[ModelT], int]:
        """One round trip for a page and its total (a window count); a second only for a page past the end."""
        windowed = statement.add_columns(func.count().over().label("total")).limit(params.limit).offset(params.offset)
        rows = (await self.session.execute(windowed)).all()
        if rows:
            return [row[0] for row in rows], int(rows[0][1])
        if params.page == 1:
            return [], 0
        total = await self.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
        return [], int(total or 0)


class TeamScopedRepository(Repository[ModelT]):
    """Tenancy lives here, not in handlers: another team's row is indistinguishable from a missing one."""

    def __init__(self, session: AsyncSession, team_id: str) -> None:
        super().__init__(session)
        self.team_id = team_id

    def scoped(self) -> Select[tuple[ModelT]]:
        return select(self.model).where(self.model.team_id == self.team_id)

    async def get(self, object_id: str) -> ModelT | None:
        if not is_valid_id(object_id):
            return None
        result: ModelT | None = await self.session.scalar(self.scoped().where(self.model.id == object_id))
        return result


async def delete_batch(session: AsyncSession, model: type[Any], *conditions: ColumnElement[bool], limit: int) -> int:
    """Deletes at most `limit` rows of `model` matching `conditions`; returns how many went.

    Maintenance deletes in bounded batches, each in its own short transaction: one huge DELETE would hold
    PostgreSQL's row locks, or SQLite's database-wide write lock, for as long as it runs.
    """
    batch = select(model.id).where(*conditions).limit(limit)
    result = await session.execute(
        delete(model).where(model.id.in_(batch)).execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
