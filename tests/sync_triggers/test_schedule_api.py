"""The sync schedule through the workspace integration endpoints: set, read, change, clear, refuse."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from platform_server.integrations.models import WorkspaceIntegration
from tests.conftest import Member
from tests.helpers import assert_error, failing_fields
from tests.integrations.helpers import connect


def _url(member: Member) -> str:
    return f"/api/workspaces/{member.workspace_id}/integrations"


async def _access(app: Any, access_id: str) -> WorkspaceIntegration:
    async with app.state.sessionmaker() as session:
        access = await session.scalar(select(WorkspaceIntegration).where(WorkspaceIntegration.id == access_id))
        assert access is not None
        return access


async def _listed(client: httpx.AsyncClient, member: Member) -> dict[str, Any]:
    response = await client.get(_url(member), headers=member.headers)
    assert response.status_code == 200, response.text
    (item,) = response.json()["integrations"]
    return dict(item)


async def test_enable_with_a_schedule_then_change_and_clear_it(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    github = await connect(client, owner, "github")
    before = datetime.now(UTC)
    response = await client.post(
        _url(owner), json={"integrationId": github.id, "syncIntervalMinutes": 60}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    access_id = response.json()["accessId"]

    item = await _listed(client, owner)
    assert item["syncIntervalMinutes"] == 60
    due = datetime.fromisoformat(item["nextSyncAt"].replace("Z", "+00:00"))
    # The first run comes at the schedule's phase within the next hour (plus at most 30 s of jitter).
    assert before - timedelta(seconds=1) < due <= before + timedelta(minutes=60, seconds=31)

    changed = await client.patch(f"{_url(owner)}/{github.id}", json={"syncIntervalMinutes": 5}, headers=owner.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["syncIntervalMinutes"] == 5
    access = await _access(app, access_id)
    assert access.sync_interval_minutes == 5
    assert access.next_sync_at is not None
    assert access.next_sync_at <= datetime.now(UTC) + timedelta(minutes=5, seconds=16)

    # Other fields leave the schedule alone.
    untouched = await client.patch(f"{_url(owner)}/{github.id}", json={"enabled": True}, headers=owner.headers)
    assert untouched.json()["syncIntervalMinutes"] == 5

    cleared = await client.patch(
        f"{_url(owner)}/{github.id}", json={"syncIntervalMinutes": None}, headers=owner.headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["syncIntervalMinutes"] is None
    assert cleared.json()["nextSyncAt"] is None
    assert (await _access(app, access_id)).next_sync_at is None


async def test_off_by_default(client: httpx.AsyncClient, owner: Member) -> None:
    github = await connect(client, owner, "github")
    response = await client.post(_url(owner), json={"integrationId": github.id}, headers=owner.headers)
    assert response.status_code == 201
    item = await _listed(client, owner)
    assert item["syncIntervalMinutes"] is None
    assert item["nextSyncAt"] is None


async def _scheduled_every_30_minutes(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> tuple[str, str, WorkspaceIntegration]:
    """GitHub connected and enabled with a 30-minute schedule: (integration id, access id, its row)."""
    github = await connect(client, owner, "github")
    created = await client.post(
        _url(owner), json={"integrationId": github.id, "syncIntervalMinutes": 30}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    access_id = created.json()["accessId"]
    return github.id, access_id, await _access(app, access_id)


async def test_bad_intervals_are_refused_and_nothing_changes(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id, access_id, before = await _scheduled_every_30_minutes(app, client, owner)
    # One integration for every bad value: each refusal must leave it as it was for the next.
    for value in [4, 10081, 0, -5, "60", 60.5, True, [60], {"minutes": 60}]:
        patched = await client.patch(
            f"{_url(owner)}/{integration_id}", json={"syncIntervalMinutes": value}, headers=owner.headers
        )
        assert failing_fields(patched) == ["body.syncIntervalMinutes"], value
        reenabled = await client.post(
            _url(owner), json={"integrationId": integration_id, "syncIntervalMinutes": value}, headers=owner.headers
        )
        assert failing_fields(reenabled) == ["body.syncIntervalMinutes"], value

        after = await _access(app, access_id)
        assert (after.sync_interval_minutes, after.next_sync_at) == (30, before.next_sync_at), value


async def test_another_teams_integration_cannot_be_scheduled(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    integration_id, access_id, before = await _scheduled_every_30_minutes(app, client, owner)

    patched = await client.patch(
        f"/api/workspaces/{other_team.workspace_id}/integrations/{integration_id}",
        json={"syncIntervalMinutes": 5},
        headers=other_team.headers,
    )
    assert_error(patched, 404, "NOT_FOUND")
    foreign_workspace = await client.patch(
        f"/api/workspaces/{owner.workspace_id}/integrations/{integration_id}",
        json={"syncIntervalMinutes": 5},
        headers=other_team.headers,
    )
    assert_error(foreign_workspace, 404, "NOT_FOUND")
    enabled = await client.post(
        f"/api/workspaces/{other_team.workspace_id}/integrations",
        json={"integrationId": integration_id, "syncIntervalMinutes": 5},
        headers=other_team.headers,
    )
    assert_error(enabled, 404, "NOT_FOUND")

    after = await _access(app, access_id)
    assert (after.sync_interval_minutes, after.next_sync_at) == (30, before.next_sync_at)
