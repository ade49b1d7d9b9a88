from collections.abc import Sequence

from sqlalchemy import func, select

from platform_server.pagination import PageParams
from platform_server.repository import Repository, TeamScopedRepository
from platform_server.teams.models import Team, User


class TeamRepository(Repository[Team]):
    model = Team

    async def get_with_user(self, team_id: str, user_id: str) -> tuple[Team, User] | None:
        row = (
            await self.session.execute(
                select(Team, User).join(User, User.team_id == Team.id).where(Team.id == team_id, User.id == user_id)
            )
        ).first()
        return (row[0], row[1]) if row is not None else None


class UserRepository(Repository[User]):
    """Users across teams: for operator commands, which act before any team is known."""

    model = User

    async def by_email(self, email: str, team_id: str | None = None) -> Sequence[User]:
        statement = select(User).where(func.lower(User.email) == email.lower()).order_by(User.id)
        if team_id is not None:
            statement = statement.where(User.team_id == team_id)
        return (await self.session.scalars(statement)).all()


class TeamMemberRepository(TeamScopedRepository[User]):
    """The users of one team."""

    model = User

    async def list_page(self, params: PageParams) -> tuple[Sequence[User], int]:
        return await self.paginate(self.scoped().order_by(User.id), params)

    async def email_taken(self, email: str) -> bool:
        found = await self.session.scalar(
            select(User.id).where(User.team_id == self.team_id, func.lower(User.email) == email.lower())
        )
        return found is not None
