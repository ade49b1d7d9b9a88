from typing import Any

import httpx

from tests.billing.conftest import post_stripe, subscription_event
from tests.conftest import Member


class TestGetBilling:
    async def test_a_team_that_never_subscribed_is_free(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get("/api/billing", headers=owner.headers)
        assert response.status_code == 200
        assert response.json() == {"plan": "free", "status": None, "currentPeriodEnd": None, "cancelAtPeriodEnd": False}

    async def test_reflects_the_subscription(
        self, client: httpx.AsyncClient, owner: Member, other_team: Member, add_member: Any
    ) -> None:
        event = subscription_event(team_id=owner.team_id, status="trialing", cancel_at_period_end=True)
        await post_stripe(client, event)
        member = await add_member(owner)
        response = await client.get("/api/billing", headers=member.headers)
        assert response.json() == {
            "plan": "pro",
            "status": "trialing",
            "currentPeriodEnd": "2027-01-15T08:00:00Z",
            "cancelAtPeriodEnd": True,
        }
        other = (await client.get("/api/billing", headers=other_team.headers)).json()
        assert other["plan"] == "free"
        assert other["status"] is None

    async def test_needs_an_api_key(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/billing")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"

    async def test_wrong_method_on_the_webhook(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/webhooks/stripe")
        assert response.status_code == 405


class TestPlanChangeReachesTheRateLimiter:
    async def test_next_request_uses_the_new_plans_limit(self, client: httpx.AsyncClient, owner: Member) -> None:
        before = await client.get("/api/billing", headers=owner.headers)
        assert before.headers["X-RateLimit-Limit"] == "100"
        await post_stripe(client, subscription_event(team_id=owner.team_id))
        after = await client.get("/api/billing", headers=owner.headers)
        assert after.headers["X-RateLimit-Limit"] == "500"
        canceled = subscription_event(team_id=owner.team_id, created=1_900_000_000, status="canceled")
        await post_stripe(client, canceled)
        assert (await client.get("/api/billing", headers=owner.headers)).headers["X-RateLimit-Limit"] == "100"
