"""GET /api/usage."""

from typing import Any

import httpx
import pytest

from platform_server.db import utcnow
from platform_server.limits.quota import QuotaPeriod, consume_ai_message
from platform_server.teams.models import Role
from tests.conftest import Member
from tests.limits.conftest import MakeMember
from tests.limits.test_quota import principal_of


def this_month() -> tuple[str, str]:
    period = QuotaPeriod.month_of(utcnow())
    return period.start.strftime("%Y-%m-%dT%H:%M:%SZ"), period.end.strftime("%Y-%m-%dT%H:%M:%SZ")


class TestGetUsage:
    async def test_a_new_free_team(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get("/api/usage", headers=owner.headers)
        assert response.status_code == 200
        body = response.json()
        start, end = this_month()
        reset = int(response.headers["x-ratelimit-reset"])
        assert body == {
            "plan": "free",
            "rateLimit": {"enabled": True, "limit": 100, "remaining": 99, "reset": reset},
            "aiMessages": {
                "used": 0,
                "limit": 50,
                "remaining": 50,
                "scope": "team",
                "periodStart": start,
                "periodEnd": end,
            },
        }
        assert response.headers["x-ratelimit-remaining"] == "99"

    async def test_reports_what_was_used(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: MakeMember, other_team: Member
    ) -> None:
        member = await add_member(owner, Role.member)
        for who in (owner, member, other_team):
            await consume_ai_message(app.state, principal_of(who))
        await client.get("/api/me", headers=member.headers)
        body = (await client.get("/api/usage", headers=member.headers)).json()
        assert body["aiMessages"]["used"] == 2
        assert body["aiMessages"]["remaining"] == 48
        assert body["rateLimit"]["remaining"] == 98

    async def test_pro_allowances_are_per_user(
        self, app: Any, client: httpx.AsyncClient, make_team: MakeMember, add_member: MakeMember
    ) -> None:
        owner = await make_team("Pro team", plan="pro")
        member = await add_member(owner, Role.member)
        await consume_ai_message(app.state, principal_of(owner))
        body = (await client.get("/api/usage", headers=member.headers)).json()
        assert body["plan"] == "pro"
        assert body["rateLimit"]["limit"] == 500
        assert body["aiMessages"] == {**body["aiMessages"], "used": 0, "limit": 1000, "scope": "user"}

    async def test_needs_an_api_key(self, client: httpx.AsyncClient) -> None:
        for headers in ({}, {"Authorization": "Bearer plat_unknown"}, {"Authorization": "Token abc"}):
            response = await client.get("/api/usage", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "UNAUTHORIZED"

    async def test_is_read_only(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.post("/api/usage", json={"used": 0}, headers=owner.headers)
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
        usage = (await client.get("/api/usage", headers=owner.headers)).json()
        assert usage["aiMessages"]["used"] == 0

    async def test_query_parameters_change_nothing(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get("/api/usage?teamId=1&plan=pro", headers=owner.headers)
        assert response.status_code == 200
        assert response.json()["plan"] == "free"


class TestWithoutLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"RATE_LIMIT_ENABLED": False}

    async def test_nothing_is_measured(self, client: httpx.AsyncClient, owner: Member) -> None:
        body = (await client.get("/api/usage", headers=owner.headers)).json()
        assert body["rateLimit"] == {"enabled": False, "limit": 100, "remaining": None, "reset": None}


class TestOnRedis:
    @pytest.fixture
    def settings_overrides(self, redis_url: str, key_prefix: str) -> dict[str, Any]:
        return {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix}

    async def test_the_window_read_in_the_background_is_reported(
        self, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await client.get("/api/me", headers=owner.headers)
        response = await client.get("/api/usage", headers=owner.headers)
        assert response.json()["rateLimit"]["remaining"] == 98
        assert response.headers["x-ratelimit-remaining"] == "98"
