"""Monthly AI message allowances: atomic in the database, per team on Free and per user on Pro."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import Request
from sqlalchemy import select

from platform_server.app import create_app
from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.db import SessionDep
from platform_server.errors import ServiceUnavailable
from platform_server.limits.models import AiUsage
from platform_server.limits.quota import (
    AiQuotaExceeded,
    AiQuotaTicket,
    QuotaPeriod,
    consume_ai_message,
    quota_service,
    refund_ai_message,
)
from platform_server.schemas import Message
from platform_server.teams.models import Role
from tests.conftest import Member
from tests.limits.conftest import MakeMember

NOVEMBER_END = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
DECEMBER_START = datetime(2026, 12, 1, tzinfo=UTC)


def principal_of(member: Member) -> Principal:
    return Principal(user_id=member.user_id, team_id=member.team_id, role=member.role, api_key_id="0")


async def consume_at(app: Any, member: Member, now: datetime) -> AiQuotaTicket:
    async with app.state.sessionmaker() as session, session.begin():
        return await quota_service.consume(session, app.state.settings, principal_of(member), now)


async def used_rows(app: Any) -> dict[tuple[str, str], int]:
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(select(AiUsage.subject_id, AiUsage.period_start, AiUsage.used))).all()
    return {(subject, period.isoformat()): used for subject, period, used in rows}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"AI_MESSAGES_FREE_PER_TEAM": 3, "AI_MESSAGES_PRO_PER_USER": 2}


class TestPeriod:
    def test_calendar_months_in_utc(self) -> None:
        assert QuotaPeriod.month_of(NOVEMBER_END) == QuotaPeriod(datetime(2026, 11, 1, tzinfo=UTC), DECEMBER_START)
        december = QuotaPeriod.month_of(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
        assert december.end == datetime(2027, 1, 1, tzinfo=UTC)

    def test_other_time_zones_are_converted(self) -> None:
        # 1 December 01:00 in UTC+2 is still 30 November in UTC.
        local = datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
        assert QuotaPeriod.month_of(local).start == datetime(2026, 11, 1, tzinfo=UTC)


class TestConsume:
    async def test_free_team_allowance_is_shared_then_refused(
        self, app: Any, owner: Member, add_member: MakeMember
    ) -> None:
        member = await add_member(owner, Role.member)
        tickets = [await consume_at(app, who, NOVEMBER_END) for who in (owner, member, owner)]
        assert [(t.used, t.limit, t.scope) for t in tickets] == [(1, 3, "team"), (2, 3, "team"), (3, 3, "team")]
        with pytest.raises(AiQuotaExceeded) as refused:
            await consume_at(app, member, NOVEMBER_END)
        assert refused.value.status_code == 429
        assert refused.value.details == {"used": 3, "limit": 3, "scope": "team", "reset": "2026-12-01T00:00:00Z"}
        assert refused.value.headers == {"Retry-After": "1"}
        assert await used_rows(app) == {(owner.team_id, "2026-11-01"): 3}

    async def test_pro_allowance_is_per_user(self, app: Any, make_team: MakeMember, add_member: MakeMember) -> None:
        owner = await make_team("Pro team", plan="pro")
        member = await add_member(owner, Role.member)
        for _ in range(2):
            await consume_at(app, owner, NOVEMBER_END)
        with pytest.raises(AiQuotaExceeded) as refused:
            await consume_at(app, owner, NOVEMBER_END)
        assert refused.value.details["scope"] == "user"
        ticket = await consume_at(app, member, NOVEMBER_END)
        assert (ticket.used, ticket.limit, ticket.scope) == (1, 2, "user")
        assert await used_rows(app) == {(owner.user_id, "2026-11-01"): 2, (member.user_id, "2026-11-01"): 1}

    async def test_teams_do_not_share_allowances(self, app: Any, owner: Member, other_team: Member) -> None:
        for _ in range(3):
            await consume_at(app, owner, NOVEMBER_END)
        assert (await consume_at(app, other_team, NOVEMBER_END)).used == 1

    async def test_a_new_month_starts_from_zero(self, app: Any, owner: Member) -> None:
        for _ in range(3):
            await consume_at(app, owner, NOVEMBER_END)
        with pytest.raises(AiQuotaExceeded):
            await consume_at(app, owner, NOVEMBER_END)
        ticket = await consume_at(app, owner, DECEMBER_START)
        assert (ticket.used, ticket.period.start) == (1, DECEMBER_START)
        assert await used_rows(app) == {(owner.team_id, "2026-11-01"): 3, (owner.team_id, "2026-12-01"): 1}

    async def test_a_zero_allowance_refuses_the_first_message(self, app: Any, owner: Member) -> None:
        app.state.settings = app.state.settings.model_copy(update={"AI_MESSAGES_FREE_PER_TEAM": 0})
        with pytest.raises(AiQuotaExceeded) as refused:
            await consume_at(app, owner, NOVEMBER_END)
        assert refused.value.details["used"] == 0
        assert await used_rows(app) == {}


class TestRefund:
    async def test_a_refund_gives_the_message_back(self, app: Any, owner: Member) -> None:
        tickets = [await consume_at(app, owner, NOVEMBER_END) for _ in range(3)]
        async with app.state.sessionmaker() as session, session.begin():
            assert await quota_service.refund(session, tickets[-1])
        assert (await consume_at(app, owner, NOVEMBER_END)).used == 3

    async def test_a_refund_after_the_month_ended_goes_to_the_month_it_came_from(self, app: Any, owner: Member) -> None:
        november = await consume_at(app, owner, NOVEMBER_END)
        await consume_at(app, owner, DECEMBER_START)
        async with app.state.sessionmaker() as session, session.begin():
            await quota_service.refund(session, november, DECEMBER_START)
        assert await used_rows(app) == {(owner.team_id, "2026-11-01"): 0, (owner.team_id, "2026-12-01"): 1}

    async def test_the_counter_never_goes_below_zero(self, app: Any, owner: Member) -> None:
        ticket = await consume_at(app, owner, NOVEMBER_END)
        async with app.state.sessionmaker() as session, session.begin():
            assert await quota_service.refund(session, ticket)
            assert not await quota_service.refund(session, ticket)
        assert await used_rows(app) == {(owner.team_id, "2026-11-01"): 0}


class TestConcurrency:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"AI_MESSAGES_FREE_PER_TEAM": 10}

    async def test_concurrent_consumers_never_overspend(self, app: Any, owner: Member) -> None:
        principal = principal_of(owner)
        results = await asyncio.gather(
            *(consume_ai_message(app.state, principal) for _ in range(40)), return_exceptions=True
        )
        assert sorted(r.used for r in results if isinstance(r, AiQuotaTicket)) == list(range(1, 11))
        assert sum(isinstance(r, AiQuotaExceeded) for r in results) == 30
        assert list((await used_rows(app)).values()) == [10]

    async def test_two_processes_never_overspend(self, app: Any, settings: Settings, owner: Member) -> None:
        other = create_app(settings)
        async with other.router.lifespan_context(other):
            principal = principal_of(owner)
            results = await asyncio.gather(
                *(consume_ai_message(state, principal) for _ in range(15) for state in (app.state, other.state)),
                return_exceptions=True,
            )
        assert sum(isinstance(r, AiQuotaTicket) for r in results) == 10
        assert sum(isinstance(r, AiQuotaExceeded) for r in results) == 20
        assert list((await used_rows(app)).values()) == [10]

    async def test_refunds_and_consumers_interleave_exactly(self, app: Any, owner: Member) -> None:
        principal = principal_of(owner)
        tickets = [await consume_ai_message(app.state, principal) for _ in range(10)]
        results = await asyncio.gather(
            *(refund_ai_message(app.state, ticket) for ticket in tickets[:5]),
            *(consume_ai_message(app.state, principal) for _ in range(10)),
            return_exceptions=True,
        )
        assert all(r is True for r in results[:5])
        consumed = sum(isinstance(r, AiQuotaTicket) for r in results[5:])
        assert 0 <= consumed <= 5
        assert list((await used_rows(app)).values()) == [5 + consumed]


class TestHttpError:
    async def test_the_429_is_rendered_in_the_error_format(self, app: Any, owner: Member) -> None:
        async def send_ai_message(request: Request, principal: CurrentPrincipal, session: SessionDep) -> Message:
            await consume_ai_message(request.app.state, principal, session)
            return Message(message="sent")

        # Stands in for the AI assistant's route, which calls the quota the same way.
        app.router.add_api_route("/api/test-ai-message", send_ai_message, methods=["POST"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            statuses = [(await client.post("/api/test-ai-message", headers=owner.headers)) for _ in range(4)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429]
        refused = statuses[-1]
        error = refused.json()["error"]
        assert error["code"] == "AI_QUOTA_EXCEEDED"
        assert error["details"]["used"] == 3
        assert error["details"]["limit"] == 3
        assert error["details"]["scope"] == "team"
        assert error["details"]["reset"].endswith("-01T00:00:00Z")
        assert int(refused.headers["retry-after"]) > 0
        # The request itself was within its per-minute limit.
        assert refused.headers["x-ratelimit-remaining"] == "96"

    async def test_a_failed_message_is_refunded_within_the_request(self, app: Any, owner: Member) -> None:
        async def failing_ai_message(request: Request, principal: CurrentPrincipal, session: SessionDep) -> Message:
            ticket = await consume_ai_message(request.app.state, principal, session)
            # The model call fails here: the message is given back, then the error is reported.
            await refund_ai_message(request.app.state, ticket, session)
            raise ServiceUnavailable("The AI model did not answer")

        app.router.add_api_route("/api/test-ai-failure", failing_ai_message, methods=["POST"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post("/api/test-ai-failure", headers=owner.headers)
        assert response.status_code == 503
        assert list((await used_rows(app)).values()) in ([], [0])
