import time
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.models import ApiKey
from platform_server.auth.principal import Principal
from platform_server.auth.repository import ApiKeyLookup, ApiKeyRepository
from platform_server.db import utcnow
from platform_server.errors import Conflict, Forbidden, ResourceNotFound, Unauthorized
from platform_server.pagination import PageParams
from platform_server.security import display_prefix, generate_api_key, hash_token
from platform_server.teams.models import Role

BEARER_PREFIX = "bearer "


class PrincipalCache:
    """API key hash → principal, per process, with a short TTL; revocations evict at once on this process."""

    def __init__(self, ttl_seconds: float, last_used_interval_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.last_used_interval_seconds = last_used_interval_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._last_used_written: dict[str, float] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        principal, expires_at = entry
        if expires_at < time.monotonic():
            del self._entries[key_hash]
            return None
        return principal

    def put(self, key_hash: str, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            self._evict_expired_or_oldest()
        self._entries[key_hash] = (principal, time.monotonic() + self.ttl_seconds)

    def evict(self, *, api_key_id: str | None = None, team_id: str | None = None) -> None:
        for key_hash, (principal, _) in list(self._entries.items()):
            if principal.api_key_id == api_key_id or principal.team_id == team_id:
                del self._entries[key_hash]

    def last_used_due(self, api_key_id: str) -> bool:
        """True at most once per interval per key, so `last_used_at` costs no write on most requests."""
        now = time.monotonic()
        written = self._last_used_written.get(api_key_id)
        if written is not None and now - written < self.last_used_interval_seconds:
            return False
        if len(self._last_used_written) >= self.max_entries:
            self._last_used_written.clear()
        self._last_used_written[api_key_id] = now
        return True

    def _evict_expired_or_oldest(self) -> None:
        now = time.monotonic()
        expired = [key for key, (_, expires_at) in self._entries.items() if expires_at < now]
        for key in expired:
            del self._entries[key]
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]


class FailedAuthGuard(Protocol):
    """Brute-force protection around the key lookup (implemented by the rate limiter)."""

    async def before_lookup(self) -> None: ...

    async def failed(self) -> None: ...


class AuthService:
    async def authenticate(
        self,
        session: AsyncSession,
        cache: PrincipalCache,
        authorization: str | None,
        guard: FailedAuthGuard | None = None,
    ) -> Principal:
        if not authorization:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <api key>'")
        if not authorization[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
            raise Unauthorized("Malformed Authorization header: expected 'Bearer <api key>'")
        key_hash = hash_token(authorization[len(BEARER_PREFIX) :].strip())
        principal = cache.get(key_hash)
        lookup = ApiKeyLookup(session)
        if principal is None:
            # Only keys missing from the cache can be guesses, so the guard costs nothing on the usual path.
            if guard is not None:
                await guard.before_lookup()
            row = await lookup.principal_row(key_hash)
            if row is None:
                if guard is not None:
                    await guard.failed()
                raise Unauthorized("Invalid or revoked API key")
            api_key_id, user_id, team_id, role = row
            principal = Principal(user_id=user_id, team_id=team_id, role=Role(role), api_key_id=api_key_id)
            cache.put(key_hash, principal)
        used_key_id = principal.api_key_id
        if used_key_id is not None and cache.last_used_due(used_key_id):
            await lookup.touch(used_key_id, utcnow())
        return principal


class ApiKeyService:
    async def list(
        self, session: AsyncSession, principal: Principal, params: PageParams
    ) -> tuple[Sequence[ApiKey], int]:
        # Owners and admins see every key of the team, members only their own.
        user_filter = None if principal.can_manage else principal.user_id
        return await ApiKeyRepository(session, principal.team_id).list_page(user_filter, params)

    async def create(self, session: AsyncSession, principal: Principal, name: str) -> tuple[ApiKey, str]:
        return await self.create_for_user(session, team_id=principal.team_id, user_id=principal.user_id, name=name)

    async def create_for_user(
        self, session: AsyncSession, *, team_id: str, user_id: str, name: str
    ) -> tuple[ApiKey, str]:
        secret = generate_api_key()
        api_key = ApiKey(
            team_id=team_id,
            user_id=user_id,
            name=name,
            prefix=display_prefix(secret),
            key_hash=hash_token(secret),
        )
        ApiKeyRepository(session, team_id).add(api_key)
        await session.flush()
        return api_key, secret

    async def revoke(
        self, session: AsyncSession, principal: Principal, cache: PrincipalCache, api_key_id: str
    ) -> ApiKey:
        keys = ApiKeyRepository(session, principal.team_id)
        found = await keys.get_with_holder_role(api_key_id)
        if found is None:
            raise ResourceNotFound("API key", api_key_id)
        api_key, holder_role = found
        _check_may_revoke(principal, api_key, holder_role)
        if api_key.revoked_at is None:
            if holder_role is Role.owner:
                await keys.lock_team()
            api_key.revoked_at = utcnow()
            await session.flush()
            # Counted after the write, so that two owners revoking each other's last keys at once cannot
            # both succeed: the second waits for the first's lock and then sees its revocation.
            if holder_role is Role.owner and await keys.count_active_owner_keys() == 0:
                raise Conflict(
                    "This is the last active API key of the team's owners: create another key first "
                    "(an operator can issue one with `platform-server issue-key`)",
                    details={"apiKeyId": api_key.id},
                )
        cache.evict(api_key_id=api_key.id)
        # A concurrent request may re-cache the key from the database before this transaction commits.
        event.listen(session.sync_session, "after_commit", lambda _: cache.evict(api_key_id=api_key.id), once=True)
        return api_key


def _check_may_revoke(principal: Principal, api_key: ApiKey, holder_role: Role) -> None:
    """Anyone revokes their own keys; admins and owners those of members and admins; only owners an owner's."""
    if api_key.user_id == principal.user_id:
        return
    if holder_role is Role.owner and principal.role is not Role.owner:
        raise Forbidden("Only an owner can revoke an owner's API key", details={"role": principal.role.value})
    if not principal.can_manage:
        raise Forbidden("Members can revoke only their own API keys", details={"role": principal.role.value})


auth_service = AuthService()
api_key_service = ApiKeyService()
