"""Per-minute request limits: per user by plan, per client address for failed authentication and public routes.

The `limits` library's moving-window strategy (an exact sliding log: no burst at window edges) over an
in-process store by default, or Redis when REDIS_URL is set so that every process shares one count. When Redis
fails, requests are served without limits (fail open) and a warning is logged once per outage.

The decision is made on the request scope, and the X-RateLimit-* headers are written from it when the
response starts (limits.middleware), so errors raised after the check carry them too.

On Redis a request costs one round trip: the strategy's two calls (take a slot, read the window for the
headers) and the read of the team's plan go out as one pipeline (`PipelinedWindow`).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.exceptions import NoScriptError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Scope

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.errors import RateLimited
from platform_server.limits.plans import PlanDirectory
from platform_server.limits.storage import LocalWindowStorage
from platform_server.log import get_logger
from platform_server.redis_store import REDIS_ERRORS, connect_redis, redis_key
from platform_server.teams.models import Plan
from platform_server.teams.plans import plan_limits

STATE_KEY = "rate_limit"
WINDOW_SECONDS = 60
# After a failure (which took at most redis_store.REDIS_TIMEOUT_SECONDS), Redis is left alone briefly.
STORE_RETRY_SECONDS = 2.0
STORE_ERRORS = (*REDIS_ERRORS, StorageError)


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    limit: int
    remaining: int
    reset_at: float  # when the oldest request in the window ages out and frees a slot

    @property
    def reset(self) -> int:
        """Unix seconds, rounded up so that a client waiting until then is never early."""
        return math.ceil(self.reset_at)

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset).encode()),
        ]


class _PerMinute(RateLimitItemPerMinute):
    """A per-minute limit whose key leaves out the amount, so a plan change keeps the user's count."""

    __slots__ = ()

    def key_for(self, *identifiers: bytes | str | int | float) -> str:
        return "/".join((self.namespace, *(str(part) for part in identifiers), "minute"))


def client_address(scope: Scope) -> str:
    """The peer address; behind a proxy, uvicorn's proxy headers (`serve` enables them) put the client here."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _request_state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


class PipelinedWindow:
    """One moving-window hit on Redis in a single round trip: `limits`' own Lua scripts, pipelined.

    The strategy would send its acquire script, then its window script for the headers; the plan read makes a
    third command. Here the three go out together by script SHA. Redis forgets scripts on restart or SCRIPT
    FLUSH: a NOSCRIPT answer loads them again (as the library itself would) and what did not run runs again.
    """

    def __init__(self, storage: RedisStorage, redis: Redis) -> None:
        bridge = storage.bridge
        # The storage is built with implementation="redispy" below; the scripts are that bridge's.
        assert isinstance(bridge, RedispyBridge)
        self._redis = redis
        self._scripts = (bridge.lua_acquire_moving_window, bridge.lua_moving_window)
        self._key = bridge.prefixed_key

    async def hit(self, item: "_PerMinute", ids: tuple[str, str], plan_key: str) -> tuple[bool, float, int, Any]:
        """(slot taken, oldest hit in the window, hits in the window, the raw value at `plan_key`)."""
        key = self._key(item.key_for(*ids))
        expiry = item.get_expiry()
        now = time.time()
        acquire, window = self._scripts
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.evalsha(acquire.sha, 1, key, now, item.amount, expiry, 1)
        pipeline.evalsha(window.sha, 1, key, now - expiry, item.amount)
        pipeline.get(plan_key)
        acquired, stats, plan = await pipeline.execute(raise_on_error=False)
        if isinstance(acquired, NoScriptError) or isinstance(stats, NoScriptError):
            for script in self._scripts:
                await self._redis.script_load(script.script)
            # Run again only what did not run: a slot already taken must not be taken twice.
            if isinstance(acquired, NoScriptError):
                acquired = await self._redis.evalsha(acquire.sha, 1, key, now, item.amount, expiry, 1)
            stats = await self._redis.evalsha(window.sha, 1, key, now - expiry, item.amount)
        for result in (acquired, stats, plan):
            if isinstance(result, Exception):
                raise result
        oldest, count = (float(stats[0]), int(stats[1])) if stats else (now, 0)
        return bool(acquired), oldest, count, plan


class RequestLimiter:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = settings.RATE_LIMIT_ENABLED
        self.clock = clock
        self._redis = connect_redis(settings)
        if self._redis is not None:
            storage: RedisStorage | LocalWindowStorage = RedisStorage(
                f"async+{settings.REDIS_URL}",
                implementation="redispy",
                # One pool with our timeouts and no retries; limits types its options as scalars only.
                connection_pool=self._redis.connection_pool,  # type: ignore[arg-type]
                key_prefix=redis_key(settings, "limits"),
            )
        else:
            storage = LocalWindowStorage(clock)
        self._window = MovingWindowRateLimiter(storage)
        self._pipelined = (
            PipelinedWindow(storage, self._redis) if isinstance(storage, RedisStorage) and self._redis else None
        )
        self.plans = PlanDirectory(sessionmaker, self._redis, settings)
        self._plan_items = {plan.value: _PerMinute(plan_limits(plan, settings).requests_per_minute) for plan in Plan}
        self._auth_failures = _PerMinute(settings.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE)
        self._public = _PerMinute(settings.RATE_LIMIT_PUBLIC_PER_MINUTE)
        self._store_down = False
        self._store_retry_at = 0.0

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def enforce(self, scope: Scope, principal: Principal, session: AsyncSession | None = None) -> None:
        """Counts one request against the user's per-minute limit; raises RateLimited (429) when it is spent."""
        counted = await self._count(principal, session)
        if counted is None:
            return
        item, allowed, info = counted
        if not allowed:
            ids = ("user", principal.user_id)
            raise await self._refused(scope, item, ids, f"Rate limit exceeded: {item.amount} requests per minute")
        _request_state(scope)[STATE_KEY] = info

    async def seconds_until_allowed(self, principal: Principal) -> int | None:
        """Counts one unit of work that has no request of its own (a tool call the AI assistant makes) against
        the user's per-minute limit: None when it may go ahead, else how long until a slot frees."""
        counted = await self._count(principal, None)
        if counted is None or counted[1]:
            return None
        info = await self._stats(counted[0], ("user", principal.user_id))
        return max(1, math.ceil(info.reset_at - self.clock())) if info is not None else WINDOW_SECONDS

    async def _count(
        self, principal: Principal, session: AsyncSession | None
    ) -> tuple["_PerMinute", bool, RateLimitInfo | None] | None:
        """(limit, allowed, window after the hit), or None when nothing is counted (limits off, store down)."""
        if not self._usable():
            return None
        ids = ("user", principal.user_id)
        try:
            if self._pipelined is None:
                item = self._item(await self.plans.current(principal.team_id, session))
                allowed = await self._window.hit(item, *ids)
                info = await self._stats(item, ids) if allowed else None
            else:
                item, allowed, info = await self._hit_shared(principal, ids, session)
        except STORE_ERRORS as exc:
            self._store_failed(exc)
            return None
        self._store_ok()
        return item, allowed, info

    async def enforce_public(self, scope: Scope) -> None:
        """A generous per-address limit for unauthenticated routes (webhooks, OAuth callbacks)."""
        if not self._usable():
            return
        ids = ("public", client_address(scope))
        try:
            allowed = await self._window.hit(self._public, *ids)
        except STORE_ERRORS as exc:
            self._store_failed(exc)
            return
        self._store_ok()
        if not allowed:
            raise await self._refused(scope, self._public, ids, "Too many requests from this address")
        _request_state(scope)[STATE_KEY] = await self._stats(self._public, ids)

    def auth_failure_guard(self, scope: Scope) -> "AuthFailureGuard | None":
        return AuthFailureGuard(self, scope) if self.enabled else None

    async def refuse_blocked_address(self, scope: Scope) -> None:
        if not self._usable():
            return
        ids = ("auth-failures", client_address(scope))
        try:
            allowed = await self._window.test(self._auth_failures, *ids)
        except STORE_ERRORS as exc:
            self._store_failed(exc)
            return
        if not allowed:
            raise await self._refused(
                scope, self._auth_failures, ids, "Too many failed authentication attempts from this address"
            )

    async def count_auth_failure(self, scope: Scope) -> None:
        if not self._usable():
            return
        try:
            await self._window.hit(self._auth_failures, "auth-failures", client_address(scope))
        except STORE_ERRORS as exc:
            self._store_failed(exc)

    async def _hit_shared(
        self, principal: Principal, ids: tuple[str, str], session: AsyncSession | None
    ) -> tuple["_PerMinute", bool, RateLimitInfo | None]:
        assert self._pipelined is not None
        team_id = principal.team_id
        # Counted against the plan this process saw last, while the same round trip reads the current one.
        guess = self.plans.cached(team_id) or await self.plans.current(team_id, session)
        guessed = self._item(guess)
        allowed, oldest, count, stored_plan = await self._pipelined.hit(guessed, ids, self.plans.key(team_id))
        plan = await self.plans.confirm(team_id, stored_plan, session)
        item = self._item(plan)
        if item.amount > guessed.amount and not allowed:
            # An upgrade the guess missed: the refused hit took no slot, so take one under the new limit.
            allowed = await self._window.hit(item, *ids)
            return item, allowed, await self._stats(item, ids) if allowed else None
        if item.amount < guessed.amount:
            # This request is already in the window; it fits the lower limit only if the window holds no more.
            allowed = allowed and count <= item.amount
        info = RateLimitInfo(item.amount, max(0, item.amount - count), oldest + WINDOW_SECONDS)
        return item, allowed, info if allowed else None

    async def _refused(self, scope: Scope, item: _PerMinute, ids: tuple[str, str], message: str) -> RateLimited:
        info = await self._stats(item, ids) or RateLimitInfo(item.amount, 0, self.clock() + WINDOW_SECONDS)
        _request_state(scope)[STATE_KEY] = info
        retry_after = max(1, math.ceil(info.reset_at - self.clock()))
        return RateLimited(
            message,
            details={"limit": item.amount, "reset": info.reset},
            headers={"Retry-After": str(retry_after)},
        )

    async def _stats(self, item: _PerMinute, ids: tuple[str, str]) -> RateLimitInfo | None:
        try:
            stats = await self._window.get_window_stats(item, *ids)
        except STORE_ERRORS as exc:
            self._store_failed(exc)
            return None
        return RateLimitInfo(item.amount, max(0, stats.remaining), stats.reset_time)

    def _item(self, plan: str) -> _PerMinute:
        return self._plan_items.get(plan, self._plan_items[Plan.free])

    def _usable(self) -> bool:
        return self.enabled and (not self._store_down or time.monotonic() >= self._store_retry_at)

    def _store_failed(self, exc: BaseException) -> None:
        if not self._store_down:
            # A fresh logger: outages are rare, and this way the line follows the current log configuration.
            get_logger(__name__).warning(
                "rate_limit_store_unavailable",
                error=f"{type(exc).__name__}: {exc}",
                consequence="requests are served without rate limits until Redis answers again",
            )
        self._store_down = True
        self._store_retry_at = time.monotonic() + STORE_RETRY_SECONDS

    def _store_ok(self) -> None:
        if self._store_down:
            self._store_down = False
            get_logger(__name__).info("rate_limit_store_recovered")


class AuthFailureGuard:
    """Failed API-key attempts per client address: past the limit, further attempts are refused (429)."""

    __slots__ = ("_limiter", "_scope")

    def __init__(self, limiter: RequestLimiter, scope: Scope) -> None:
        self._limiter = limiter
        self._scope = scope

    async def before_lookup(self) -> None:
        await self._limiter.refuse_blocked_address(self._scope)

    async def failed(self) -> None:
        await self._limiter.count_auth_failure(self._scope)


def request_limiter(app_state: Any) -> RequestLimiter:
    limiter: RequestLimiter = app_state.limiter
    return limiter


async def enforce_request_limit(
    app_state: Any, scope: Scope, principal: Principal, session: AsyncSession | None = None
) -> None:
    """For routes that authenticate outside `CurrentPrincipal` (the MCP endpoint): the same per-user limit."""
    await request_limiter(app_state).enforce(scope, principal, session)
