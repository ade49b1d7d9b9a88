"""Per-minute limits on authenticated routes, with the in-process store (the default)."""

import time
from typing import Any

import httpx
import pytest

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.limits.dependencies import PublicRateLimit
from platform_server.limits.limiter import RequestLimiter
from platform_server.models import Workspace
from platform_server.schemas import Message
from platform_server.teams.models import Role
from tests.conftest import Member, row_count
from tests.limits.clock import FakeClock
from tests.limits.conftest import MakeMember, rate_headers, set_plan


@pytest.fixture
def clock(app: Any) -> FakeClock:
    """The app's limiter, rebuilt on a clock the test moves, so a minute passes without waiting for it."""
    fake = FakeClock()
    app.state.limiter = RequestLimiter(app.state.settings, app.state.sessionmaker, clock=fake)
    return fake


class TestHeaders:
    async def test_every_authenticated_response_counts_down(self, client: httpx.AsyncClient, owner: Member) -> None:
        first = await client.get("/api/me", headers=owner.headers)
        second = await client.get("/api/workspaces", headers=owner.headers)
        assert first.status_code == second.status_code == 200
        limit, remaining, reset = rate_headers(first)
        assert (limit, remaining) == (100, 99)
        assert time.time() - 1 <= reset <= time.time() + 61
        assert rate_headers(second)[:2] == (100, 98)

    async def test_errors_after_authentication_carry_the_headers(
        self, client: httpx.AsyncClient, owner: Member, add_member: MakeMember
    ) -> None:
        member = await add_member(owner, Role.member)
        not_found = await client.get("/api/workspaces/123456789", headers=owner.headers)
        invalid = await client.post("/api/workspaces", json={"name": 7}, headers=owner.headers)
        malformed = await client.post(
            "/api/workspaces", content=b"{", headers={**owner.headers, "content-type": "application/json"}
        )
        forbidden = await client.post("/api/users", json={"email": "x@acme.dev", "name": "X"}, headers=member.headers)
        assert [not_found.status_code, invalid.status_code, forbidden.status_code] == [404, 422, 403]
        assert [rate_headers(r)[1] for r in (not_found, invalid)] == [99, 98]
        assert rate_headers(forbidden)[1] == 99
        # Malformed JSON is refused while the body is parsed, before authentication: not counted.
        assert malformed.status_code == 400
        assert "x-ratelimit-limit" not in malformed.headers

    async def test_an_unexpected_error_carries_them_too(self, app: Any, owner: Member) -> None:
        async def broken(principal: CurrentPrincipal) -> Message:
            raise RuntimeError("a bug")

        app.router.add_api_route("/api/test-broken", broken, methods=["GET"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/api/test-broken", headers=owner.headers)
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "INTERNAL_ERROR"
        assert rate_headers(response)[:2] == (100, 99)

    async def test_unauthenticated_responses_have_none(self, client: httpx.AsyncClient) -> None:
        for headers in ({}, {"Authorization": "Bearer plat_not-a-key"}, {"Authorization": "Basic abc"}):
            response = await client.get("/api/me", headers=headers)
            assert response.status_code == 401
            assert "x-ratelimit-limit" not in response.headers

    async def test_users_are_counted_separately(
        self, client: httpx.AsyncClient, owner: Member, add_member: MakeMember
    ) -> None:
        member = await add_member(owner, Role.member)
        await client.get("/api/me", headers=owner.headers)
        await client.get("/api/me", headers=owner.headers)
        response = await client.get("/api/me", headers=member.headers)
        assert rate_headers(response)[1] == 99


class TestFreeLimit:
    async def test_the_101st_request_is_refused_until_the_window_moves(
        self, client: httpx.AsyncClient, owner: Member, clock: FakeClock
    ) -> None:
        for _ in range(100):
            assert (await client.get("/api/me", headers=owner.headers)).status_code == 200
        refused = await client.get("/api/me", headers=owner.headers)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "RATE_LIMITED"
        limit, remaining, reset = rate_headers(refused)
        assert (limit, remaining) == (100, 0)
        assert error["details"] == {"limit": 100, "reset": reset}
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["x-request-id"]

        clock.advance(61)
        served = await client.get("/api/me", headers=owner.headers)
        assert served.status_code == 200
        assert rate_headers(served)[:2] == (100, 99)

    async def test_a_refused_request_does_no_work(
        self, app: Any, client: httpx.AsyncClient, owner: Member, clock: FakeClock
    ) -> None:
        for _ in range(100):
            await client.get("/api/me", headers=owner.headers)
        response = await client.post("/api/workspaces", json={"name": "Blocked"}, headers=owner.headers)
        assert response.status_code == 429
        assert await row_count(app, Workspace) == 1

    async def test_no_burst_at_the_window_edge(
        self, client: httpx.AsyncClient, owner: Member, clock: FakeClock
    ) -> None:
        for _ in range(60):
            await client.get("/api/me", headers=owner.headers)
        clock.advance(45)
        for _ in range(40):
            assert (await client.get("/api/me", headers=owner.headers)).status_code == 200
        # A fixed window would have reset here; the sliding window still holds all 100 requests.
        clock.advance(15)
        refused = await client.get("/api/me", headers=owner.headers)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) == 1
        clock.advance(1)
        assert (await client.get("/api/me", headers=owner.headers)).status_code == 200


class TestPlanChanges:
    async def test_pro_limits_apply_on_the_next_request_after_an_upgrade(
        self, app: Any, client: httpx.AsyncClient, owner: Member, clock: FakeClock
    ) -> None:
        for _ in range(100):
            await client.get("/api/me", headers=owner.headers)
        assert (await client.get("/api/me", headers=owner.headers)).status_code == 429
        await set_plan(app, owner.team_id, "pro")
        upgraded = await client.get("/api/me", headers=owner.headers)
        assert upgraded.status_code == 200
        assert rate_headers(upgraded)[:2] == (500, 399)

    async def test_a_downgrade_applies_on_the_next_request(
        self, app: Any, client: httpx.AsyncClient, make_team: MakeMember, clock: FakeClock
    ) -> None:
        pro = await make_team("Pro team", plan="pro")
        for _ in range(100):
            await client.get("/api/me", headers=pro.headers)
        assert rate_headers(await client.get("/api/me", headers=pro.headers))[:2] == (500, 399)
        await set_plan(app, pro.team_id, "free")
        refused = await client.get("/api/me", headers=pro.headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["limit"] == 100


class TestDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"RATE_LIMIT_ENABLED": False, "RATE_LIMIT_FREE_PER_MINUTE": 2, "RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": 1}

    async def test_nothing_is_limited_and_no_headers_are_sent(self, client: httpx.AsyncClient, owner: Member) -> None:
        for _ in range(4):
            response = await client.get("/api/me", headers=owner.headers)
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers
        for _ in range(3):
            assert (await client.get("/api/me", headers={"Authorization": "Bearer plat_wrong"})).status_code == 401


class TestBruteForce:
    async def test_failed_attempts_per_address_are_limited(
        self, client: httpx.AsyncClient, owner: Member, add_member: MakeMember, clock: FakeClock
    ) -> None:
        assert (await client.get("/api/me", headers=owner.headers)).status_code == 200
        unused_key = await add_member(owner, Role.member)
        wrong = {"Authorization": "Bearer plat_guessed-key-0123456789"}
        for _ in range(20):
            assert (await client.get("/api/me", headers=wrong)).status_code == 401
        refused = await client.get("/api/me", headers=wrong)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert refused.json()["error"]["details"]["limit"] == 20
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # While blocked, no key is looked up from this address; one already verified keeps working.
        assert (await client.get("/api/me", headers=unused_key.headers)).status_code == 429
        assert (await client.get("/api/me", headers=owner.headers)).status_code == 200

        clock.advance(61)
        assert (await client.get("/api/me", headers=wrong)).status_code == 401
        assert (await client.get("/api/me", headers=unused_key.headers)).status_code == 200

    async def test_requests_without_a_key_are_not_counted(self, client: httpx.AsyncClient, owner: Member) -> None:
        for _ in range(25):
            assert (await client.get("/api/me")).status_code == 401
        assert (await client.get("/api/me", headers={"Authorization": "Bearer plat_wrong"})).status_code == 401

    async def test_addresses_are_counted_separately(self, app: Any, owner: Member, clock: FakeClock) -> None:
        wrong = {"Authorization": "Bearer plat_guessed-key-0123456789"}
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as attacker:
            for _ in range(21):
                await attacker.get("/api/me", headers=wrong)
            assert (await attacker.get("/api/me", headers=wrong)).status_code == 429
        transport = httpx.ASGITransport(app=app, client=("198.51.100.2", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as bystander:
            assert (await bystander.get("/api/me", headers=wrong)).status_code == 401


class TestPublicRoutes:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"RATE_LIMIT_PUBLIC_PER_MINUTE": 3}

    @pytest.fixture
    def public_client(self, app: Any) -> httpx.AsyncClient:
        async def ping() -> Message:
            return Message(message="pong")

        # Stands in for a webhook or OAuth callback route, which declare the same dependency.
        app.router.add_api_route("/api/test-public", ping, methods=["POST"], dependencies=[PublicRateLimit])
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    async def test_a_generous_limit_per_address(self, public_client: httpx.AsyncClient, clock: FakeClock) -> None:
        async with public_client:
            served = [await public_client.post("/api/test-public") for _ in range(3)]
            refused = await public_client.post("/api/test-public")
            assert [r.status_code for r in served] == [200, 200, 200]
            assert [rate_headers(r)[:2] for r in served] == [(3, 2), (3, 1), (3, 0)]
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "RATE_LIMITED"
            assert refused.json()["error"]["details"]["limit"] == 3
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            clock.advance(61)
            assert (await public_client.post("/api/test-public")).status_code == 200
