from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.auth.service import PrincipalCache, auth_service
from platform_server.db import SessionDep
from platform_server.errors import Forbidden
from platform_server.limits.limiter import request_limiter


# async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hop on every request.
async def get_principal_cache(request: Request) -> PrincipalCache:
    cache: PrincipalCache = request.app.state.principal_cache
    return cache


PrincipalCacheDep = Annotated[PrincipalCache, Depends(get_principal_cache)]


async def current_principal(request: Request, session: AsyncSession, cache: PrincipalCache) -> Principal:
    limiter = request_limiter(request.app.state)
    principal = await auth_service.authenticate(
        session, cache, request.headers.get("authorization"), limiter.auth_failure_guard(request.scope)
    )
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(user_id=principal.user_id, team_id=principal.team_id)
    # Before any handler work, so a refused request does none.
    await limiter.enforce(request.scope, principal, session)
    return principal


class _ApiKeyBearer(HTTPBearer):
    """The API key dependency of every authenticated route, in one step.

    As an `HTTPBearer` it declares the scheme in OpenAPI (under the same name); the header itself is parsed by
    the auth service so that every failure renders in the error format. One dependency rather than three (the
    scheme, the principal cache, the principal): FastAPI's solving costs per dependency, on every request.
    """

    async def __call__(self, request: Request, session: SessionDep) -> Principal:  # type: ignore[override]
        return await current_principal(request, session, request.app.state.principal_cache)


_api_key = _ApiKeyBearer(
    auto_error=False, scheme_name="HTTPBearer", description="An API key: `Authorization: Bearer plat_…`"
)
CurrentPrincipal = Annotated[Principal, Depends(_api_key)]


async def admin_principal(principal: CurrentPrincipal) -> Principal:
    if not principal.can_manage:
        raise Forbidden("This action needs the admin or owner role", details={"role": principal.role.value})
    return principal


AdminPrincipal = Annotated[Principal, Depends(admin_principal)]
