from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.models import ApiKey
from platform_server.auth.principal import Principal
from platform_server.auth.service import api_key_service
from platform_server.errors import Conflict, Forbidden, NotFound, Unauthorized
from platform_server.pagination import PageParams
from platform_server.teams.models import Role, Team, User
from platform_server.teams.repository import TeamMemberRepository, TeamRepository, UserRepository
from platform_server.teams.schemas import UserCreate
from platform_server.workspaces.models import Workspace
from platform_server.workspaces.repository import WorkspaceRepository


class TeamService:
    async def me(self, session: AsyncSession, principal: Principal) -> tuple[Team, User]:
        found = await TeamRepository(session).get_with_user(principal.team_id, principal.user_id)
        if found is None:
            raise Unauthorized("The user behind this API key no longer exists")
        return found

    async def list_members(
        self, session: AsyncSession, principal: Principal, params: PageParams
    ) -> tuple[Sequence[User], int]:
        return await TeamMemberRepository(session, principal.team_id).list_page(params)

    async def add_member(
        self, session: AsyncSession, principal: Principal, data: UserCreate
    ) -> tuple[User, ApiKey, str]:
        """Adds a user to the caller's team with a first API key; only an owner may create another owner."""
        if data.role == Role.owner and principal.role != Role.owner:
            raise Forbidden("Only an owner can add another owner", details={"role": principal.role.value})
        members = TeamMemberRepository(session, principal.team_id)
        if await members.email_taken(data.email):
            raise Conflict("A user with this email is already in the team", details={"email": data.email})
        user = members.add(User(team_id=principal.team_id, email=data.email, name=data.name, role=data.role))
        try:
            await session.flush()
        except IntegrityError as exc:
            # A concurrent request added the same email between the check and the insert.
            raise Conflict("A user with this email is already in the team", details={"email": data.email}) from exc
        api_key, secret = await api_key_service.create_for_user(
            session, team_id=principal.team_id, user_id=user.id, name="first key"
        )
        return user, api_key, secret

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

    async def issue_recovery_key(
        self, session: AsyncSession, *, email: str, team_id: str | None, name: str
    ) -> tuple[User, ApiKey, str]:
        """A new API key for an existing user, whatever their keys' state: the way back in for a locked-out owner."""
        users = await UserRepository(session).by_email(email, team_id)
        if not users:
            raise NotFound(f"No user has the email {email}" + (f" in team {team_id}" if team_id else ""))
        if len(users) > 1:
            raise Conflict(
                f"Users of several teams have the email {email}: choose the team",
                details={"teamIds": [user.team_id for user in users]},
            )
        user = users[0]
        api_key, secret = await api_key_service.create_for_user(
            session, team_id=user.team_id, user_id=user.id, name=name
        )
        return user, api_key, secret


team_service = TeamService()
