from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.models import ApiKey
from platform_server.auth.principal import Principal
from platform_server.auth.service import api_key_service
from platform_server.errors import Unauthorized
from platform_server.teams.models import Role, Team, User
from platform_server.teams.repository import TeamRepository, UserRepository
from platform_server.workspaces.models import Workspace
from platform_server.workspaces.repository import WorkspaceRepository


class TeamService:
    async def me(self, session: AsyncSession, principal: Principal) -> tuple[Team, User]:
        found = await TeamRepository(session).get_with_user(principal.team_id, principal.user_id)
        if found is None:
            raise Unauthorized("The user behind this API key no longer exists")
        return found

    async def bootstrap(
        self, session: AsyncSession, *, team_name: str, email: str, workspace_name: str
    ) -> tuple[Team, User, Workspace, ApiKey, str]:
        """Creates a team with its owner, a first workspace and the owner's first API key."""
        team = TeamRepository(session).add(Team(name=team_name))
        await session.flush()
        user = UserRepository(session).add(
            User(team_id=team.id, email=email, name=email.split("@", 1)[0], role=Role.owner)
        )
        workspace = WorkspaceRepository(session, team.id).add(Workspace(team_id=team.id, name=workspace_name))
        await session.flush()
        api_key, secret = await api_key_service.create_for_user(
            session, team_id=team.id, user_id=user.id, name="bootstrap"
        )
        return team, user, workspace, api_key, secret


team_service = TeamService()
