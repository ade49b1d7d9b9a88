import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from platform_server.db import utcnow
from platform_server.integrations.tokens import TokenManager
from platform_server.limits.service import plan_changed
from tests.conftest import Member
from tests.integrations.test_tokens import _connect, _expire_soon, _row, _token_calls
from tests.redis_server import RedisServer, own_redis
from tests.servers import free_port
from tests.sync.helpers import connect_and_enable, sync

__all__ = ["own_redis"]

PREFIX = "tenant-a"


@pytest.fixture
def settings_overrides(redis_url: str) -> dict[str, Any]:
    return {"PLATFORM_SANDBOX": True, "REDIS_URL": redis_url}


async def test_redis_lock_serializes_refreshes_across_processes(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id = await _connect(app, client, owner, "linear")
    await _expire_soon(app, integration_id, timedelta(seconds=30))
    calls = _token_calls(app, "linear")
    state = app.state
    assert state.redis is not None
    other = TokenManager(state.settings, state.sessionmaker, state.encryptor, state.provider_http, state.redis)
    tokens = await asyncio.gather(*(m.access_token(integration_id) for m in [state.token_manager, other] * 4))
    assert len(set(tokens)) == 1
    assert _token_calls(app, "linear") == calls + 1


async def _list_issues(client: httpx.AsyncClient, member: Member) -> httpx.Response:
    return await client.post(
        f"/api/workspaces/{member.workspace_id}/tools/linear_list_issues",
        json={"teamKey": "ENG", "first": 5},
        headers=member.headers,
    )


async def _assert_refreshed(app: Any, integration_id: str, calls: int) -> None:
    assert _token_calls(app, "linear") == calls + 1
    integration = await _row(app, integration_id)
    assert integration.status == "connected"
    assert integration.token_expires_at is not None
    assert integration.token_expires_at > utcnow() + timedelta(minutes=30)


class TestRedisDown:
    """REDIS_URL points at a port nothing listens on: Redis is optional, so nothing but readiness may fail."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"PLATFORM_SANDBOX": True, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}

    async def test_a_due_refresh_on_a_tool_call_takes_the_database_lock(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await connect_and_enable(app, client, owner, "linear")
        await _expire_soon(app, integration_id)
        calls = _token_calls(app, "linear")
        with capture_logs() as logs:
            response = await _list_issues(client, owner)
        assert response.status_code == 200, response.text
        await _assert_refreshed(app, integration_id, calls)
        assert [entry["event"] for entry in logs].count("refresh_lock_redis_unavailable") == 1

    async def test_a_due_refresh_on_a_sync_takes_the_database_lock(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await connect_and_enable(app, client, owner, "linear")
        await _expire_soon(app, integration_id)
        calls = _token_calls(app, "linear")
        result = await sync(client, owner, integration_id)
        assert result["status"] == "completed", result
        await _assert_refreshed(app, integration_id, calls)

    async def test_concurrent_refreshes_across_processes_refresh_once(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await _connect(app, client, owner, "linear")
        await _expire_soon(app, integration_id)
        calls = _token_calls(app, "linear")
        state = app.state
        other = TokenManager(state.settings, state.sessionmaker, state.encryptor, state.provider_http, state.redis)
        tokens = await asyncio.gather(*(m.access_token(integration_id) for m in [state.token_manager, other] * 4))
        assert len(set(tokens)) == 1
        await _assert_refreshed(app, integration_id, calls)

    async def test_readiness_still_reports_redis_down(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["redis"].startswith("error")


class TestKeyPrefix:
    @pytest.fixture
    def settings_overrides(self, own_redis: RedisServer) -> dict[str, Any]:
        return {
            "PLATFORM_SANDBOX": True,
            "REDIS_URL": own_redis.url,
            "REDIS_KEY_PREFIX": PREFIX,
            "RATE_LIMIT_ENABLED": True,
        }

    async def test_every_key_the_app_writes_carries_the_prefix(
        self, app: Any, client: httpx.AsyncClient, owner: Member, own_redis: RedisServer
    ) -> None:
        # The server is this test's own, so every key event in it is the app's: short-lived locks included.
        observer = Redis.from_url(own_redis.url)
        await observer.config_set("notify-keyspace-events", "KA")
        events = observer.pubsub()
        await events.psubscribe("__keyspace@0__:*")
        try:
            integration_id = await connect_and_enable(app, client, owner, "linear")
            await _expire_soon(app, integration_id)
            assert (await _list_issues(client, owner)).status_code == 200
            await _expire_soon(app, integration_id)
            await sync(client, owner, integration_id)
            assert (await client.get("/api/me", headers={"Authorization": "Bearer plat_wrong"})).status_code == 401
            assert (await client.post("/api/webhooks/stripe", content=b"{}")).status_code == 404
            await plan_changed(app.state, owner.team_id)

            written: set[str] = set()
            while (message := await events.get_message(timeout=0.5)) is not None:
                if message["type"] == "pmessage":
                    written.add(message["channel"].decode().removeprefix("__keyspace@0__:"))
            stored = {key.decode() async for key in observer.scan_iter()}
        finally:
            await events.aclose()
            await observer.aclose()
        assert stored <= written
        assert [key for key in written if not key.startswith(f"{PREFIX}:")] == []
        kinds = {key.split(":")[1] for key in written}
        assert {"limits", "plan", "lock"} <= kinds
        assert f"{PREFIX}:lock:refresh:{integration_id}" in written
