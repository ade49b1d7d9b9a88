"""Which plan a team is on: cheap on every request, and a change is seen on the next request everywhere.

Reading `teams.plan` with every request would cost a database query (0.6 to 1.5 ms on the 2-core reference
machine, ARCHITECTURE §7), against about 10 µs for the in-process limiter itself. So the plan is kept out of the
database:

- with Redis, `{prefix}:plan:{team_id}` holds the plan. Every request reads it in the limiter's own round
  trip (one pipeline), so it adds no wall-clock latency, and a change written by `publish` (after the billing
  transaction commits) is seen by every process on its next request. A missing key is filled from the
  database with SET NX, so a reader holding a stale value can never overwrite a newer one; the key expires,
  which bounds how long a change made behind our back (plain SQL) goes unnoticed.
- without Redis there is one process by design (the in-process limiter counts per process too), so a local
  entry is exact once `publish` has run there; it also expires, for the same reason.
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.config import Settings
from platform_server.limits.repository import TeamPlanRepository
from platform_server.redis_store import redis_key
from platform_server.teams.models import Plan

PLAN_TTL_SECONDS = 60


class PlanDirectory:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: Redis | None,
        settings: Settings,
        max_entries: int = 10_000,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._redis = redis
        self._settings = settings
        self._max_entries = max_entries
        self._local: dict[str, tuple[str, float]] = {}

    def cached(self, team_id: str) -> str | None:
        """The plan this process saw last; with Redis only a guess, to be confirmed by `current`."""
        entry = self._local.get(team_id)
        return entry[0] if entry is not None else None

    async def current(self, team_id: str, session: AsyncSession | None = None) -> str:
        if self._redis is not None:
            return await self.confirm(team_id, await self._redis.get(self.key(team_id)), session)
        entry = self._local.get(team_id)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        plan = await self.load(team_id, session)
        self._remember(team_id, plan)
        return plan

    async def confirm(self, team_id: str, stored: object, session: AsyncSession | None = None) -> str:
        """The plan from the value read at `key(team_id)` (the limiter reads it in its own round trip)."""
        assert self._redis is not None
        if stored is None:
            plan = await self.load(team_id, session)
            await self._redis.set(self.key(team_id), plan, ex=PLAN_TTL_SECONDS, nx=True)
        else:
            plan = stored.decode() if isinstance(stored, bytes) else str(stored)
        self._remember(team_id, plan)
        return plan

    async def publish(self, team_id: str, plan: str) -> None:
        """Makes `plan` the team's plan for every process; call it once the change has been committed."""
        self._remember(team_id, plan)
        if self._redis is not None:
            await self._redis.set(self.key(team_id), plan, ex=PLAN_TTL_SECONDS)

    async def load(self, team_id: str, session: AsyncSession | None = None) -> str:
        """The plan as committed in the database."""
        async with self._session(session) as active:
            plan = await TeamPlanRepository(active, team_id).plan()
        return plan if plan is not None else Plan.free

    @asynccontextmanager
    async def _session(self, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        if session is not None:
            yield session
            return
        async with self._sessionmaker() as own:
            yield own

    def _remember(self, team_id: str, plan: str) -> None:
        if len(self._local) >= self._max_entries and team_id not in self._local:
            self._local.clear()
        self._local[team_id] = (plan, time.monotonic() + PLAN_TTL_SECONDS)

    def key(self, team_id: str) -> str:
        return redis_key(self._settings, "plan", team_id)
