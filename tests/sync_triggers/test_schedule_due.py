"""The scheduler's arithmetic (phase per access id, next due time, jitter bound) and its choice of due rows."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from platform_server.integrations.models import WorkspaceIntegration
from platform_server.integrations.sync.schedule import (
    MAX_RANDOM_JITTER,
    next_due,
    phase,
    random_jitter,
    run_due_schedules,
    skip_backoff,
)
from tests.conftest import Member
from tests.integrations.helpers import connect

HOUR = timedelta(hours=1)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def test_phase_is_a_function_of_the_access_id_and_spreads_schedules() -> None:
    ids = [str(7_000_000_000_000_000 + n) for n in range(1000)]
    phases = [phase(access_id, HOUR) for access_id in ids]
    assert phases == [phase(access_id, HOUR) for access_id in ids]
    assert all(timedelta(0) <= value < HOUR for value in phases)
    # A thousand hourly schedules land in (nearly) every minute of the hour, not on one second.
    assert len({value // timedelta(minutes=1) for value in phases}) >= 55
    assert max(sum(1 for value in phases if value // timedelta(minutes=1) == m) for m in range(60)) < 40


def test_next_due_is_the_next_slot_at_the_phase() -> None:
    after = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    for access_id in ("1", "2", "17390123456789012345"):
        due = next_due(access_id, HOUR, after)
        assert after < due <= after + HOUR
        assert (due - EPOCH - phase(access_id, HOUR)) % HOUR == timedelta(0)
        assert next_due(access_id, HOUR, due) == due + HOUR
        assert next_due(access_id, HOUR, after, timedelta(seconds=7)) == due + timedelta(seconds=7)


def test_random_jitter_is_bounded() -> None:
    for interval in (timedelta(minutes=5), HOUR, timedelta(days=7)):
        bound = min(MAX_RANDOM_JITTER, interval / 20)
        assert all(timedelta(0) <= random_jitter(interval) <= bound for _ in range(200))


def test_skip_backoff_grows_and_is_capped() -> None:
    assert [skip_backoff(timedelta(minutes=5), skips) for skips in (1, 2, 3)] == [
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
    ]
    assert skip_backoff(HOUR, 50) == timedelta(days=1)


async def test_a_schedule_that_cannot_run_is_skipped_with_a_growing_pause(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    github = await connect(client, owner, "github")
    created = await client.post(
        f"/api/workspaces/{owner.workspace_id}/integrations",
        json={"integrationId": github.id, "syncIntervalMinutes": 30},
        headers=owner.headers,
    )
    access_id = created.json()["accessId"]
    disabled = await client.patch(
        f"/api/workspaces/{owner.workspace_id}/integrations/{github.id}",
        json={"enabled": False},
        headers=owner.headers,
    )
    assert disabled.status_code == 200
    now = datetime.now(UTC)
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(WorkspaceIntegration)
            .where(WorkspaceIntegration.id == access_id)
            .values(next_sync_at=now - timedelta(seconds=1))
        )

    for skips, pause in ((1, timedelta(minutes=60)), (2, timedelta(minutes=120))):
        async with app.state.sessionmaker() as session, session.begin():
            assert await run_due_schedules(session, now) == 0
        async with app.state.sessionmaker() as session:
            access = await session.scalar(select(WorkspaceIntegration).where(WorkspaceIntegration.id == access_id))
        assert access is not None
        assert access.schedule_skips == skips
        assert access.schedule_skip_reason is not None
        assert "is not enabled for workspace" in access.schedule_skip_reason
        assert access.next_sync_at == now + pause
        # Not due again until the pause is over.
        async with app.state.sessionmaker() as session, session.begin():
            assert await run_due_schedules(session, now + pause - timedelta(seconds=1)) == 0
        async with app.state.sessionmaker() as session:
            unchanged = await session.scalar(
                select(WorkspaceIntegration.schedule_skips).where(WorkspaceIntegration.id == access_id)
            )
        assert unchanged == skips
        now += pause
