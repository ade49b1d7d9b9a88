from sqlalchemy import select

from platform_server.repository import Repository
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
    model = User
