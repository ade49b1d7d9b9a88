from platform_server.auth.dependencies import CurrentPrincipal, PrincipalCacheDep
from platform_server.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from platform_server.auth.service import api_key_service
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.pagination import PageDep, Paginated, Pagination
from platform_server.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/api-keys", tags=["api-keys"], responses=error_responses(401, 422))


@router.get("", operation_id="listApiKeys", summary="List API keys")
async def list_api_keys(principal: CurrentPrincipal, session: SessionDep, page: PageDep) -> Paginated[ApiKeyRead]:
    """Owners and admins see every key of the team; members see their own. Secrets are never returned."""
    keys, total = await api_key_service.list(session, principal, page)
    return Paginated[ApiKeyRead](
        data=[ApiKeyRead.model_validate(key) for key in keys], pagination=Pagination.of(page, total)
    )


@router.post("", status_code=201, operation_id="createApiKey", summary="Create an API key")
async def create_api_key(principal: CurrentPrincipal, session: SessionDep, body: ApiKeyCreate) -> ApiKeyCreated:
    """Creates a key for the caller. The `key` field is the only time the secret is shown."""
    api_key, secret = await api_key_service.create(session, principal, body.name)
    return ApiKeyCreated(api_key=ApiKeyRead.model_validate(api_key), key=secret)


@router.delete(
    "/{api_key_id}",
    operation_id="revokeApiKey",
    summary="Revoke an API key",
    responses=error_responses(403, 404, 409),
)
async def revoke_api_key(
    principal: CurrentPrincipal, session: SessionDep, cache: PrincipalCacheDep, api_key_id: str
) -> ApiKeyRead:
    """Everyone may revoke their own keys; owners and admins also members' and admins' keys; only owners an
    owner's key (403 otherwise). The last active key of the team's owners cannot be revoked (409): create
    another first. Revokes at once on this server; other server processes stop accepting it within the cache
    TTL (30 s)."""
    api_key = await api_key_service.revoke(session, principal, cache, api_key_id)
    return ApiKeyRead.model_validate(api_key)
