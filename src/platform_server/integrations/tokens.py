"""Token storage and lifecycle: encrypted at rest, refreshed before expiry or after a 401, one refresh at a time.

A refresh runs in its own session and commits before returning: a rotating provider burns the old refresh
token the moment it answers, so the new one must be on disk even if the caller's transaction rolls back.

Serialization, per integration: an in-process asyncio lock first (coroutines of one process share the result),
then a lock that holds across processes: a Redis lock when Redis is configured and answers, otherwise the
database's own — the write lock (taken by a no-op UPDATE) on SQLite. On PostgreSQL `SELECT … FOR UPDATE` is
taken in every case: it costs nothing uncontended, and a process that cannot reach Redis then still waits for
one that holds the Redis lock (with rotating refresh tokens, two concurrent refreshes revoke the grant). The
row is re-read after the lock is taken, so a waiter that finds a fresh token uses it instead of refreshing again.
"""

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.integrations.models import Integration, IntegrationStatus
from platform_server.integrations.oauth import OAuthFailure, TokenSet, refresh
from platform_server.integrations.providers.base import ClientCredentials, Provider
from platform_server.integrations.providers.client import (
    IntegrationExpired,
    ProviderClient,
    ProviderHttp,
    ProviderUnavailable,
)
from platform_server.integrations.registry import PROVIDER_CLASSES, get_provider
from platform_server.integrations.remote_mcp.grants import refresh_grant
from platform_server.integrations.remote_mcp.models import REMOTE_PROVIDER, RemoteMcpServer
from platform_server.log import get_logger
from platform_server.metrics.registry import record_token_refresh
from platform_server.redis_store import REDIS_ERRORS, redis_key
from platform_server.security import DecryptionError, Encryptor

REFRESH_MARGIN = timedelta(minutes=5)
# A token this close to its expiry may die in flight to the revoke endpoint.
REVOKE_MARGIN = timedelta(minutes=1)
_LOCK_TTL_SECONDS = 60
_LOCK_WAIT_SECONDS = 65
# How many opened tokens a process keeps before it starts over.
_MAX_OPENED = 10_000
_REJECTED_AFTER_REFRESH = "The provider rejected a freshly refreshed token; reconnect"

logger = get_logger(__name__)


class TokenRefreshOutcome(StrEnum):
    refreshed = "refreshed"
    revoked = "revoked"  # the provider refused the refresh token: the grant is gone, the user must reconnect
    failed = "failed"  # an outage or a configuration fault: retried on the next use


def _associated_data(integration_id: str, field: str) -> str:
    return f"integrations:{integration_id}:{field}"


def seal_tokens(encryptor: Encryptor, integration: Integration, tokens: TokenSet) -> None:
    """Writes a whole token set onto the row (a connect), encrypted and bound to this row and column."""
    _seal_main(encryptor, integration, tokens.access_token, tokens.refresh_token, tokens.expires_at)
    _seal_user(encryptor, integration, tokens.user_token, tokens.user_refresh_token, tokens.user_expires_at)


def _seal_main(
    encryptor: Encryptor, integration: Integration, token: str, refresh_token: str | None, expires_at: datetime | None
) -> None:
    integration.access_token_encrypted = _seal(encryptor, integration, "access_token", token)
    integration.refresh_token_encrypted = _seal(encryptor, integration, "refresh_token", refresh_token)
    integration.token_expires_at = expires_at
    _stamp(encryptor, integration)


def _seal_user(
    encryptor: Encryptor,
    integration: Integration,
    token: str | None,
    refresh_token: str | None,
    expires_at: datetime | None,
) -> None:
    integration.user_token_encrypted = _seal(encryptor, integration, "user_token", token)
    integration.user_refresh_token_encrypted = _seal(encryptor, integration, "user_refresh_token", refresh_token)
    integration.user_token_expires_at = expires_at
    _stamp(encryptor, integration)


def _seal(encryptor: Encryptor, integration: Integration, field: str, token: str | None) -> str | None:
    return encryptor.encrypt(token, _associated_data(integration.id, field)) if token else None


def _stamp(encryptor: Encryptor, integration: Integration) -> None:
    integration.token_key_id = encryptor.current_key_id
    integration.token_refreshed_at = utcnow()


def clear_tokens(integration: Integration) -> None:
    integration.access_token_encrypted = None
    integration.refresh_token_encrypted = None
    integration.user_token_encrypted = None
    integration.user_refresh_token_encrypted = None
    integration.user_token_expires_at = None
    integration.token_key_id = None
    integration.token_expires_at = None


def _sealed(integration: Integration, field: str) -> str | None:
    sealed: str | None = getattr(integration, f"{field}_encrypted")
    return sealed


def open_token(encryptor: Encryptor, integration: Integration, field: str) -> str | None:
    sealed = _sealed(integration, field)
    if sealed is None:
        return None
    return encryptor.decrypt(sealed, _associated_data(integration.id, field))


def _fresh(expires_at: datetime | None, margin: timedelta = REFRESH_MARGIN) -> bool:
    return expires_at is None or expires_at - utcnow() > margin


@dataclass(frozen=True, slots=True)
class _Kind:
    """Which of an integration's tokens: the main one, or Slack's user token beside it."""

    token: str
    refresh_token: str
    expires_at: str

    def expiry(self, integration: Integration) -> datetime | None:
        value: datetime | None = getattr(integration, self.expires_at)
        return value


_MAIN = _Kind("access_token", "refresh_token", "token_expires_at")
_USER = _Kind("user_token", "user_refresh_token", "user_token_expires_at")
# The tokens every provider request opens; refresh tokens are opened only to refresh, and not kept.
_KEPT_FIELDS = frozenset({_MAIN.token, _USER.token})


async def tokens_to_revoke(
    encryptor: Encryptor,
    provider: Provider,
    credentials: ClientCredentials,
    http: httpx.AsyncClient,
    integration: Integration,
) -> list[str]:
    """Every access token of the integration (the main one, and Slack's user token: a revoke ends one token
    only), each refreshed first when it has expired, since a provider refuses to revoke an expired token and
    the grant would outlive the integration. Nothing is stored: the integration is being deleted."""
    tokens = []
    for kind in (_MAIN, _USER):
        token = open_token(encryptor, integration, kind.token)
        if token is None:
            continue
        refresh_token = open_token(encryptor, integration, kind.refresh_token)
        expires_at = kind.expiry(integration)
        if refresh_token is not None and expires_at is not None and expires_at - utcnow() < REVOKE_MARGIN:
            try:
                token = (await refresh(provider, credentials, http, refresh_token)).access_token
            except OAuthFailure as failure:
                # A refused refresh usually means the grant is gone already; the revoke that follows says the rest.
                logger.warning("integration_revoke_refresh_failed", integration_id=integration.id, error=failure.error)
        tokens.append(token)
    return tokens


class TokenManager:
    """Hands out valid access tokens for integrations; one per application (it owns the in-process locks)."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        encryptor: Encryptor,
        provider_http: ProviderHttp,
        redis: Redis | None = None,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._encryptor = encryptor
        self._provider_http = provider_http
        self._redis = redis
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Every tool call opens its integration's access token: the plaintext is kept beside the exact
        # ciphertext it came from, so a refresh or a reconnect (a new ciphertext, in any process) is a miss,
        # never a stale hit; a refresh here drops the integration's entries. In memory only, never logged.
        self._opened: dict[tuple[str, str], tuple[str, str]] = {}

    def source(self, integration_id: str, loaded: Integration | None = None) -> "IntegrationTokenSource":
        return IntegrationTokenSource(self, integration_id, loaded=loaded)

    def client_for(self, integration: Integration) -> ProviderClient:
        """The provider API client for one integration: its tokens, refreshed as needed, and its metadata."""
        # The caller has just read the row: its tokens serve until a refresh, which reads it again under lock.
        return self._provider_http.client(
            integration.provider,
            IntegrationTokenSource(self, integration.id, loaded=integration),
            context=dict(integration.account_metadata or {}),
        )

    async def access_token(self, integration_id: str, loaded: Integration | None = None) -> str:
        integration = loaded if loaded is not None else await self._load(integration_id)
        token = self._usable_token(integration)
        if _fresh(integration.token_expires_at):
            return token
        return await self.refresh(integration_id, rejected_token=None)

    async def user_access_token(self, integration_id: str, loaded: Integration | None = None) -> str | None:
        integration = loaded if loaded is not None else await self._load(integration_id)
        self._usable_token(integration)
        token = self._open(integration, "user_token")
        if token is None or _fresh(integration.user_token_expires_at):
            return token
        return await self.refresh(integration_id, rejected_token=None, user=True)

    async def mark_expired(self, integration_id: str) -> None:
        """The provider refused a token refreshed a moment ago: the grant is gone until someone reconnects."""
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(Integration)
                .where(Integration.id == integration_id)
                .values(status=IntegrationStatus.expired, status_reason=_REJECTED_AFTER_REFRESH)
            )
        logger.warning("integration_expired", integration_id=integration_id, reason=_REJECTED_AFTER_REFRESH)

    async def refresh(
        self,
        integration_id: str,
        *,
        rejected_token: str | None,
        user: bool = False,
        margin: timedelta = REFRESH_MARGIN,
    ) -> str:
        """Refreshes unless someone else already did; `rejected_token` is the token a provider answered 401 to.
        `user` refreshes Slack's user token (on its own refresh token) instead of the main one. Without a
        rejected token, only a token expiring within `margin` is refreshed (the proactive refresh job looks
        further ahead than a request does)."""
        kind = _USER if user else _MAIN
        lock = self._locks.get(integration_id)
        if lock is None:
            lock = self._locks[integration_id] = asyncio.Lock()
        async with (
            lock,
            self._cross_process_lock(integration_id) as redis_locked,
            self._sessionmaker() as session,
            session.begin(),
        ):
            integration = await self._lock_row(session, integration_id, redis_locked=redis_locked)
            current = self._usable_token(integration)
            if user:
                current = self._open(integration, kind.token) or ""
            if rejected_token is not None and current != rejected_token:
                return current
            if rejected_token is None and _fresh(kind.expiry(integration), margin):
                return current
            outcome = await self._refresh_locked(
                session, integration, current, kind, rejected=rejected_token is not None
            )
        self._forget(integration_id)
        # Raised only after the commit, so the status change that explains the failure is kept.
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _refresh_locked(
        self, session: AsyncSession, integration: Integration, current: str, kind: _Kind, *, rejected: bool
    ) -> str | Exception:
        refresh_token = self._open(integration, kind.refresh_token)
        try:
            tokens = None if refresh_token is None else await self._refreshed(session, integration, refresh_token)
        except OAuthFailure as failure:
            return self._refresh_failed(integration, current, failure, rejected=rejected)
        if tokens is None:
            if not rejected:
                # Nothing to refresh with: the token stays in use until the provider rejects it.
                return current
            self._mark(integration, IntegrationStatus.expired, "The provider rejected the token; reconnect")
            return _expired(integration)
        # Slack answers a refresh for the one token refreshed; the other keeps what it had.
        if kind is _USER:
            _seal_user(self._encryptor, integration, tokens.access_token, tokens.refresh_token, tokens.expires_at)
        else:
            _seal_main(self._encryptor, integration, tokens.access_token, tokens.refresh_token, tokens.expires_at)
            if tokens.user_token is not None:
                _seal_user(
                    self._encryptor, integration, tokens.user_token, tokens.user_refresh_token, tokens.user_expires_at
                )
            # The integration's scopes are the main token's; a user token's refresh answers with the user scopes.
            if tokens.scopes:
                integration.scopes = tokens.scopes
        self._mark(integration, IntegrationStatus.connected, None)
        record_token_refresh(integration.provider, TokenRefreshOutcome.refreshed)
        logger.info(
            "integration_token_refreshed",
            integration_id=integration.id,
            provider=integration.provider,
            token=kind.token,
        )
        return tokens.access_token

    async def _refreshed(self, session: AsyncSession, integration: Integration, refresh_token: str) -> TokenSet | None:
        """New tokens from the provider's authorization server (a remote MCP server's own, found by discovery);
        None when there is nothing to refresh with (the provider's app credentials are not configured)."""
        if integration.provider == REMOTE_PROVIDER:
            server = await session.get(RemoteMcpServer, integration.id)
            if server is None:
                return None
            return await refresh_grant(self._settings, self._encryptor, server, refresh_token)
        provider = get_provider(self._settings, integration.provider)
        credentials = provider.credentials()
        if credentials is None:
            return None
        return await refresh(provider, credentials, self._provider_http.http(provider.name), refresh_token)

    def _refresh_failed(
        self, integration: Integration, current: str, failure: OAuthFailure, *, rejected: bool
    ) -> str | Exception:
        logger.warning(
            "integration_token_refresh_failed",
            integration_id=integration.id,
            provider=integration.provider,
            error=failure.error,
            transient=failure.transient,
        )
        record_token_refresh(
            integration.provider, TokenRefreshOutcome.revoked if failure.grant_revoked else TokenRefreshOutcome.failed
        )
        if failure.grant_revoked:
            self._mark(integration, IntegrationStatus.expired, f"Token refresh refused ({failure.error}); reconnect")
            return _expired(integration)
        # Outages and configuration faults are not the user's grant: keep it, say why, retry on the next use.
        self._mark(integration, IntegrationStatus.error, f"Token refresh failed ({failure.error}); will retry")
        expires_at = integration.token_expires_at
        if not rejected and (expires_at is None or expires_at > utcnow()):
            return current
        return ProviderUnavailable(
            integration.provider,
            f"{provider_title(integration)} could not refresh the connection's token ({failure.error}); "
            "try again shortly",
        )

    def _forget(self, integration_id: str) -> None:
        for field in _KEPT_FIELDS:
            self._opened.pop((integration_id, field), None)

    @staticmethod
    def _mark(integration: Integration, status: IntegrationStatus, reason: str | None) -> None:
        integration.status = status
        integration.status_reason = reason

    def _usable_token(self, integration: Integration) -> str:
        if integration.status == IntegrationStatus.expired:
            raise _expired(integration)
        token = self._open(integration, "access_token")
        if token is None:
            raise IntegrationExpired(
                integration.provider,
                f"The {provider_title(integration)} integration {integration.id} is not connected yet; "
                "complete the OAuth flow",
            )
        return token

    def _open(self, integration: Integration, field: str) -> str | None:
        sealed = _sealed(integration, field)
        opened = self._opened.get((integration.id, field))
        if opened is not None and opened[0] == sealed:
            return opened[1]
        try:
            token = open_token(self._encryptor, integration, field)
        except DecryptionError as exc:
            # A removed key (or a tampered row) makes the grant unusable; reconnecting stores a fresh one.
            raise IntegrationExpired(
                integration.provider,
                f"The {provider_title(integration)} credentials cannot be decrypted; reconnect the integration",
            ) from exc
        if sealed is not None and token is not None and field in _KEPT_FIELDS:
            if len(self._opened) >= _MAX_OPENED:
                self._opened.clear()
            self._opened[(integration.id, field)] = (sealed, token)
        return token

    async def _load(self, integration_id: str) -> Integration:
        async with self._sessionmaker() as session:
            integration = await session.get(Integration, integration_id)
        if integration is None:
            raise IntegrationExpired("unknown", f"Integration {integration_id} no longer exists")
        return integration

    async def _lock_row(self, session: AsyncSession, integration_id: str, *, redis_locked: bool) -> Integration:
        statement = (
            select(Integration).where(Integration.id == integration_id).execution_options(populate_existing=True)
        )
        if not self._settings.is_sqlite:
            statement = statement.with_for_update()
        elif not redis_locked:
            # The first write of a transaction takes SQLite's database-wide write lock until commit.
            await session.execute(
                update(Integration)
                .where(Integration.id == integration_id)
                .values(token_refreshed_at=Integration.token_refreshed_at)
            )
        integration = await session.scalar(statement)
        if integration is None:
            raise IntegrationExpired("unknown", f"Integration {integration_id} no longer exists")
        return integration

    @asynccontextmanager
    async def _cross_process_lock(self, integration_id: str) -> AsyncIterator[bool]:
        """Yields whether Redis holds the lock; when it does not, the database lock is what serializes."""
        if self._redis is None:
            yield False
            return
        lock = self._redis.lock(
            redis_key(self._settings, "lock", "refresh", integration_id),
            timeout=_LOCK_TTL_SECONDS,
            blocking_timeout=_LOCK_WAIT_SECONDS,
        )
        try:
            held = await lock.acquire()
        except REDIS_ERRORS as exc:
            # Redis is optional: a due token must not fail a tool call or a sync because Redis is down.
            logger.warning(
                "refresh_lock_redis_unavailable",
                integration_id=integration_id,
                error=f"{type(exc).__name__}: {exc}",
                consequence="the database lock serializes the refresh",
            )
            held = False
        try:
            yield held
        finally:
            if held:
                await _release(lock, integration_id)


async def _release(lock: Lock, integration_id: str) -> None:
    try:
        await lock.release()
    except REDIS_ERRORS as exc:
        # The refresh has committed; the lock expires on its own (_LOCK_TTL_SECONDS).
        logger.warning("refresh_lock_release_failed", integration_id=integration_id, error=f"{type(exc).__name__}")


def provider_title(integration: Integration) -> str:
    # A remote MCP server is known by the name its team gave it.
    provider = PROVIDER_CLASSES.get(integration.provider)
    return provider.display_name if provider is not None else integration.name


def _expired(integration: Integration) -> IntegrationExpired:
    title = provider_title(integration)
    return IntegrationExpired(
        integration.provider,
        f"The {title} connection has expired or was revoked; reconnect {title} in Settings → Integrations",
    )


class IntegrationTokenSource:
    """The TokenSource the provider client calls: a valid token now, and a forced refresh after a 401."""

    def __init__(self, manager: TokenManager, integration_id: str, loaded: Integration | None = None) -> None:
        self._manager = manager
        self.integration_id = integration_id
        self._loaded = loaded
        self._last_token: str | None = None
        self._last_user_token: str | None = None

    async def access_token(self) -> str:
        self._last_token = await self._manager.access_token(self.integration_id, self._loaded)
        return self._last_token

    async def refresh_after_unauthorized(self, user_token: bool = False) -> str:
        if user_token:
            rejected = self._last_user_token or await self.user_access_token() or ""
            self._loaded = None
            self._last_user_token = await self._manager.refresh(self.integration_id, rejected_token=rejected, user=True)
            return self._last_user_token
        rejected = self._last_token or await self._manager.access_token(self.integration_id, self._loaded)
        self._loaded = None
        self._last_token = await self._manager.refresh(self.integration_id, rejected_token=rejected)
        return self._last_token

    async def rejected_after_refresh(self) -> None:
        await self._manager.mark_expired(self.integration_id)

    async def user_access_token(self) -> str | None:
        self._last_user_token = await self._manager.user_access_token(self.integration_id, self._loaded)
        return self._last_user_token
