from fastapi import APIRouter, Request, Response

from platform_server.health.schemas import Health, Readiness
from platform_server.health.service import check_database, check_redis

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="getHealth", summary="The process is up")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="The database (and Redis, when configured) answer",
    responses={503: {"model": Readiness, "description": "A dependency is unavailable"}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    checks = {
        "database": await check_database(request.app.state.engine),
        "redis": await check_redis(request.app.state.redis),
    }
    ready = all(value in ("ok", "disabled") for value in checks.values())
    response.status_code = 200 if ready else 503
    return Readiness(status="ok" if ready else "unavailable", checks=checks)
