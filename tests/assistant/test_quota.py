"""One message, one unit of the monthly allowance: team-wide on Free, per user on Pro, exact under concurrency."""

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from platform_server.sandbox.model import SandboxModelStore
from platform_server.teams.models import Role
from tests.assistant.conftest import FREE_LIMIT, PRO_LIMIT, AddMember, ai_used, ask, ask_ok, stored_rows
from tests.conftest import Member
from tests.gateway.conftest import Enable
from tests.helpers import assert_error

MakeTeam = Callable[..., Coroutine[Any, Any, Member]]


async def test_free_allowance_is_shared_by_the_team_under_concurrency(
    app: Any, client: httpx.AsyncClient, owner: Member, add_member: AddMember, other_team: Member
) -> None:
    member = await add_member(owner, Role.member)
    senders = [owner, member] * 4

    responses = await asyncio.gather(*(ask(client, who, f"Hello {n}") for n, who in enumerate(senders)))

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: FREE_LIMIT, 429: len(senders) - FREE_LIMIT}
    refused = [response for response in responses if response.status_code == 429]
    error = assert_error(refused[0], 429, "AI_QUOTA_EXCEEDED")
    details = error["details"]
    assert (details["used"], details["limit"], details["scope"]) == (FREE_LIMIT, FREE_LIMIT, "team")
    assert int(refused[0].headers["retry-after"]) >= 1
    counted = sorted(response.json()["usage"]["used"] for response in responses if response.status_code == 200)
    assert counted == list(range(1, FREE_LIMIT + 1))
    assert await ai_used(client, owner) == await ai_used(client, member) == FREE_LIMIT
    # Refused messages stored nothing; another team's allowance is untouched.
    assert await stored_rows(app) == (FREE_LIMIT, 2 * FREE_LIMIT)
    assert (await ask(client, other_team, "Hello")).status_code == 200


async def test_pro_allowance_is_per_user_under_concurrency(
    client: httpx.AsyncClient, make_team: MakeTeam, add_member: AddMember
) -> None:
    owner = await make_team("Initech", plan="pro")
    member = await add_member(owner, Role.member)
    senders = [owner, member] * 4

    responses = await asyncio.gather(*(ask(client, who, f"Hello {n}") for n, who in enumerate(senders)))

    by_sender = Counter((who.user_id, response.status_code) for who, response in zip(senders, responses, strict=True))
    for who in (owner, member):
        assert by_sender[(who.user_id, 200)] == PRO_LIMIT
        assert by_sender[(who.user_id, 429)] == 4 - PRO_LIMIT
    refused = next(response for response in responses if response.status_code == 429)
    error = assert_error(refused, 429, "AI_QUOTA_EXCEEDED")
    assert (error["details"]["limit"], error["details"]["scope"]) == (PRO_LIMIT, "user")
    ok = next(response for response in responses if response.status_code == 200)
    assert ok.json()["usage"]["scope"] == "user"
    assert await ai_used(client, owner) == await ai_used(client, member) == PRO_LIMIT


class TestToolCallsCountPerMinute:
    @pytest.fixture
    def settings_overrides(self, settings_overrides: dict[str, Any]) -> dict[str, Any]:
        return {**settings_overrides, "RATE_LIMIT_FREE_PER_MINUTE": 12}

    async def test_a_tool_call_past_the_limit_is_refused_and_never_reaches_the_provider(
        self, app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable, model: SandboxModelStore
    ) -> None:
        await enable(owner, "github", ["github_list_issues"])
        # Spend the minute's allowance down to one request: the message itself.
        remaining = int((await client.get("/api/me", headers=owner.headers)).headers["X-RateLimit-Remaining"])
        for _ in range(remaining - 1):
            assert (await client.get("/api/me", headers=owner.headers)).status_code == 200
        provider_calls = app.state.sandbox.count("github")

        body = await ask_ok(client, owner, "Which issues are open right now?")

        [call] = body["toolCalls"]
        assert (call["name"], call["outcome"], call["errorCode"]) == ("github_list_issues", "rejected", "RATE_LIMITED")
        assert app.state.sandbox.count("github") == provider_calls
        # The model was told how long to wait.
        told = json.loads(model.requests[-1]["messages"][-1]["content"])
        assert told["error"] == "RATE_LIMITED"
        assert 1 <= told["retryAfterSeconds"] <= 60
