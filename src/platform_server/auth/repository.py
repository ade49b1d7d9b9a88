from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.models import ApiKey
from platform_server.ids import is_valid_id
from platform_server.pagination import PageParams
from platform_server.repository import TeamScopedRepository
from platform_server.teams.models import Role, Team, User

# Built once: this runs for every request whose key is not in the process cache.
_principal_by_hash = (
    select(ApiKey.id, ApiKey.user_id, ApiKey.team_id, User.role)
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)
_touch_last_used = update(ApiKey).where(ApiKey.id == bindparam("key_id")).values(last_used_at=bindparam("used_at"))


class ApiKeyRepository(TeamScopedRepository[ApiKey]):
    model = ApiKey

    def listing(self, user_id: str | None) -> Select[tuple[ApiKey]]:
        statement = self.scoped().order_by(ApiKey.id.desc())
        return statement.where(ApiKey.user_id == user_id) if user_id is not None else statement

    async def list_page(self, user_id: str | None, params: PageParams) -> tuple[Sequence[ApiKey], int]:
        return await self.paginate(self.listing(user_id), params)

    async def get_with_holder_role(self, api_key_id: str) -> tuple[ApiKey, Role] | None:
        """The key and the role of the user who holds it: who may revoke a key depends on both."""
        if not is_valid_id(api_key_id):
            return None
        row = (
            await self.session.execute(
                self.scoped()
                .add_columns(User.role)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.id == api_key_id)
            )
        ).first()
        return (row[0], Role(row[1])) if row is not None else None

    async def lock_team(self) -> None:
        """Serializes changes to the team's owner keys on PostgreSQL; on SQLite the first write's lock does."""
        await self.session.execute(select(Team.id).where(Team.id == self.team_id).with_for_update())

    async def count_active_owner_keys(self) -> int:
        statement = (
            select(func.count())
            .select_from(ApiKey)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.team_id == self.team_id, ApiKey.revoked_at.is_(None), User.role == Role.owner)
        )
        return int(await self.session.scalar(statement) or 0)


class ApiKeyLookup:
    """Queries that run before the caller's team is known, so they cannot be team-scoped."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def principal_row(self, key_hash: str) -> tuple[str, str, str, str] | None:
        row = (await self.session.execute(_principal_by_hash, {"key_hash": key_hash})).first()
        return (row[0], row[1], row[2], row[3]) if row is not None else None

    async def touch(self, key_id: str, used_at: datetime) -> None:
        await self.session.execute(_touch_last_used, {"key_id": key_id, "used_at": used_at})
