from fastapi import APIRouter, Request

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.teams.plans import plan_limits
from platform_server.teams.schemas import MeRead, PlanRead, TeamRead, UserRead
from platform_server.teams.service import team_service

router = APIRouter(prefix="/api", tags=["me"], responses=error_responses(401))


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
