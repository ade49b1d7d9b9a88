"""Per-minute limits on Redis: one count for every process, plan changes seen everywhere, and fail-open."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

import httpx
import pytest
import redis
from structlog.testing import capture_logs

from platform_server.app import create_app
from platform_server.config import Settings
from tests.conftest import Member
from tests.limits.conftest import MakeMember, rate_headers, set_plan
from tests.redis_server import RedisServer, own_redis

__all__ = ["own_redis"]


@pytest.fixture
async def second_app(app: Any, settings: Settings) -> AsyncIterator[Any]:
    """Another server process, as far as the limiter can tell: same database and Redis, nothing in memory."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        yield other


@pytest.fixture
async def second_client(second_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=second_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


class TestConcurrentBurst:
    @pytest.fixture
    def settings_overrides(self, redis_url: str, key_prefix: str) -> dict[str, Any]:
        # A small burst: on a saturated 2-core machine a big one can stall the event loop past the Redis
        # timeout, and the limiter then fails open by design.
        return {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix, "RATE_LIMIT_FREE_PER_MINUTE": 8}

    async def test_two_instances_allow_exactly_the_limit_from_a_concurrent_burst(
        self, client: httpx.AsyncClient, second_client: httpx.AsyncClient, owner: Member
    ) -> None:
        burst = [client, second_client] * 10
        responses = await asyncio.gather(*(http.get("/api/me", headers=owner.headers) for http in burst))
        assert Counter(response.status_code for response in responses) == {200: 8, 429: 12}
        assert all(r.json()["error"]["code"] == "RATE_LIMITED" for r in responses if r.status_code == 429)


class TestSharedCount:
    @pytest.fixture
    def settings_overrides(self, redis_url: str, key_prefix: str) -> dict[str, Any]:
        return {
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": key_prefix,
            "RATE_LIMIT_FREE_PER_MINUTE": 20,
            "RATE_LIMIT_PRO_PER_MINUTE": 30,
        }

    async def test_headers_count_down_across_instances(
        self, client: httpx.AsyncClient, second_client: httpx.AsyncClient, owner: Member
    ) -> None:
        first = await client.get("/api/me", headers=owner.headers)
        second = await second_client.get("/api/workspaces", headers=owner.headers)
        third = await client.get("/api/me", headers=owner.headers)
        assert [rate_headers(r)[:2] for r in (first, second, third)] == [(20, 19), (20, 18), (20, 17)]
        assert time.time() - 1 <= rate_headers(third)[2] <= time.time() + 61

    async def test_the_count_goes_on_after_redis_forgets_its_scripts(
        self, client: httpx.AsyncClient, owner: Member, redis_url: str
    ) -> None:
        # What a Redis restart or failover does to loaded Lua scripts: the next pipeline answers NOSCRIPT.
        first = await client.get("/api/me", headers=owner.headers)
        with redis.Redis.from_url(redis_url) as admin:
            admin.script_flush()
        second = await client.get("/api/me", headers=owner.headers)
        assert second.status_code == 200
        assert [rate_headers(r)[:2] for r in (first, second)] == [(20, 19), (20, 18)]

    async def test_with_only_one_script_reloaded_a_request_still_counts_once(
        self, client: httpx.AsyncClient, owner: Member, redis_url: str
    ) -> None:
        # The acquire script survives (another client loaded it again), the window script does not: the slot
        # the first attempt took must not be taken a second time.
        scripts = files("limits") / "resources" / "redis" / "lua_scripts"
        first = await client.get("/api/me", headers=owner.headers)
        with redis.Redis.from_url(redis_url) as admin:
            admin.script_flush()
            admin.script_load((scripts / "acquire_moving_window.lua").read_text())
        second = await client.get("/api/me", headers=owner.headers)
        assert [rate_headers(r)[:2] for r in (first, second)] == [(20, 19), (20, 18)]

    async def test_an_upgrade_on_one_instance_applies_on_the_next_request_on_another(
        self, app: Any, client: httpx.AsyncClient, second_client: httpx.AsyncClient, owner: Member
    ) -> None:
        for _ in range(20):
            assert (await second_client.get("/api/me", headers=owner.headers)).status_code == 200
        assert (await second_client.get("/api/me", headers=owner.headers)).status_code == 429
        await set_plan(app, owner.team_id, "pro")
        upgraded = await second_client.get("/api/me", headers=owner.headers)
        assert upgraded.status_code == 200
        assert rate_headers(upgraded)[:2] == (30, 9)

    async def test_a_downgrade_on_one_instance_applies_on_the_next_request_on_another(
        self, app: Any, second_client: httpx.AsyncClient, make_team: MakeMember
    ) -> None:
        pro = await make_team("Pro team", plan="pro")
        for _ in range(25):
            assert (await second_client.get("/api/me", headers=pro.headers)).status_code == 200
        await set_plan(app, pro.team_id, "free")
        refused = await second_client.get("/api/me", headers=pro.headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["limit"] == 20

    async def test_failed_authentication_is_counted_across_instances(
        self, client: httpx.AsyncClient, second_client: httpx.AsyncClient, settings: Settings
    ) -> None:
        wrong = {"Authorization": "Bearer plat_guessed-key-0123456789"}
        for attempt in range(settings.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE):
            http = client if attempt % 2 else second_client
            assert (await http.get("/api/me", headers=wrong)).status_code == 401
        assert (await client.get("/api/me", headers=wrong)).status_code == 429
        assert (await second_client.get("/api/me", headers=wrong)).status_code == 429


class TestRedisOutage:
    @pytest.fixture
    def settings_overrides(self, own_redis: RedisServer) -> dict[str, Any]:
        return {"REDIS_URL": own_redis.url}

    async def test_requests_are_served_and_the_outage_is_logged_and_reported(
        self, client: httpx.AsyncClient, owner: Member, own_redis: RedisServer
    ) -> None:
        before = await client.get("/api/me", headers=owner.headers)
        assert before.status_code == 200
        assert rate_headers(before)[:2] == (100, 99)

        own_redis.stop()
        with capture_logs() as logs:
            during = [await client.get("/api/me", headers=owner.headers) for _ in range(3)]
        assert [response.status_code for response in during] == [200, 200, 200]
        # Nothing was measured, so nothing is claimed.
        assert all("x-ratelimit-limit" not in response.headers for response in during)
        warnings = [entry for entry in logs if entry["event"] == "rate_limit_store_unavailable"]
        assert len(warnings) == 1
        assert warnings[0]["log_level"] == "warning"

        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"].startswith("error")

    async def test_unknown_keys_are_still_refused_while_redis_is_down(
        self, client: httpx.AsyncClient, own_redis: RedisServer
    ) -> None:
        own_redis.stop()
        wrong = {"Authorization": "Bearer plat_guessed-key-0123456789"}
        assert (await client.get("/api/me", headers=wrong)).status_code == 401
