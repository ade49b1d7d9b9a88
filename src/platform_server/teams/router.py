from fastapi import Request

from platform_server.auth.dependencies import AdminPrincipal, CurrentPrincipal
from platform_server.auth.schemas import ApiKeyRead
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.pagination import PageDep, Paginated, Pagination
from platform_server.routing import PrefixedRouter
from platform_server.teams.plans import plan_limits
from platform_server.teams.schemas import MeRead, PlanRead, TeamRead, UserCreate, UserCreated, UserRead
from platform_server.teams.service import team_service

router = PrefixedRouter(prefix="/api", tags=["me"], responses=error_responses(401))


@router.get("/me", operation_id="getMe", summary="The caller, their team and its plan")
async def get_me(request: Request, principal: CurrentPrincipal, session: SessionDep) -> MeRead:
    team, user = await team_service.me(session, principal)
    limits = plan_limits(team.plan, request.app.state.settings)
    return MeRead(
        user=UserRead.model_validate(user),
        team=TeamRead.model_validate(team),
        plan=PlanRead(
            name=limits.name,
            requests_per_minute=limits.requests_per_minute,
            ai_messages_per_month=limits.ai_messages_per_month,
            ai_messages_scope=limits.ai_messages_scope,
        ),
    )


@router.get(
    "/users",
    operation_id="listUsers",
    summary="List the team's members",
    tags=["users"],
    responses=error_responses(422),
)
async def list_users(principal: CurrentPrincipal, session: SessionDep, page: PageDep) -> Paginated[UserRead]:
    users, total = await team_service.list_members(session, principal, page)
    return Paginated[UserRead](data=[UserRead.model_validate(u) for u in users], pagination=Pagination.of(page, total))


@router.post(
    "/users",
    status_code=201,
    operation_id="createUser",
    summary="Add a member to the team",
    tags=["users"],
    responses=error_responses(403, 409, 422),
)
async def create_user(principal: AdminPrincipal, session: SessionDep, body: UserCreate) -> UserCreated:
    """Owners and admins only; only an owner can add another owner. The first API key is shown this once."""
    user, api_key, secret = await team_service.add_member(session, principal, body)
    return UserCreated(user=UserRead.model_validate(user), api_key=ApiKeyRead.model_validate(api_key), key=secret)
