"""Syncs as jobs, in-process on both databases: enqueue_sync's contract, background runs, provider errors
beyond the retry limit, and the cancel endpoint's refusals (roles, other teams', unknown and cross-wired ids,
a run already ended)."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_server.errors import ResourceNotFound
from platform_server.integrations.models import SyncLog
from platform_server.integrations.sync.jobs import enqueue_sync
from platform_server.models import WorkItem
from platform_server.teams.models import Role
from tests.conftest import Member, row_count
from tests.helpers import UNKNOWN_IDS, assert_error
from tests.integrations.helpers import start
from tests.jobs.helpers import github_with, is_postgres, job_state, run_jobs, run_until_finished
from tests.sync.helpers import connect_and_enable
from tests.sync.test_sync import expected_github, import_request


async def _logs(app: Any) -> list[SyncLog]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(SyncLog).order_by(SyncLog.started_at))).all())


async def test_enqueue_sync_queues_one_run_and_refuses_a_second(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    async with app.state.sessionmaker() as session, session.begin():
        first = await enqueue_sync(
            session,
            team_id=owner.team_id,
            integration_id=integration_id,
            workspace_id=owner.workspace_id,
            trigger="schedule",
        )
        second = await enqueue_sync(
            session,
            team_id=owner.team_id,
            integration_id=integration_id,
            workspace_id=owner.workspace_id,
            trigger="webhook",
        )
    assert first is not None
    assert (first.status, first.source_entity, first.target_entity) == ("running", "issues", "work_items")
    assert first.job_id is not None
    assert second is None
    assert await run_until_finished(app, first.job_id) == "succeeded"
    (log,) = await _logs(app)
    assert log.status == "completed"
    assert log.items_synced == len(expected_github(app, pulls=False))
    assert await row_count(app, WorkItem) == log.items_synced


async def test_enqueue_sync_in_a_rolled_back_transaction_leaves_nothing(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")

    class Refused(Exception):
        pass

    async def enqueue_then_fail() -> None:
        async with app.state.sessionmaker() as session, session.begin():
            await enqueue_sync(
                session,
                team_id=owner.team_id,
                integration_id=integration_id,
                workspace_id=owner.workspace_id,
                trigger="webhook",
            )
            raise Refused

    with pytest.raises(Refused):
        await enqueue_then_fail()
    assert await _logs(app) == []
    # Another team's integration is not found, whatever the workspace.
    async with app.state.sessionmaker() as session, session.begin():
        with pytest.raises(ResourceNotFound):
            await enqueue_sync(
                session,
                team_id=other_team.team_id,
                integration_id=integration_id,
                workspace_id=other_team.workspace_id,
                trigger="webhook",
            )
    await run_jobs(app)
    assert await _logs(app) == []
    assert await row_count(app, WorkItem) == 0


async def test_an_outage_beyond_the_retry_limit_fails_the_run_with_the_reason(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    app.state.sandbox.faults.error_rate = 1.0
    response = await client.post(
        f"/api/integrations/{integration_id}/sync",
        json={
            "syncType": "import",
            "workspaceId": owner.workspace_id,
            "sourceEntity": "issues",
            "targetEntity": "work_items",
            "async": True,
        },
        headers=owner.headers,
    )
    assert response.status_code == 202, response.text
    (log,) = await _logs(app)
    assert log.job_id is not None
    assert await run_until_finished(app, log.job_id) == "succeeded"
    (failed,) = await _logs(app)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "GitHub" in failed.error
    assert "gave up after 5 attempts" in failed.error


async def test_cancel_refuses_members_other_teams_unknown_and_finished_runs(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member, add_member: Any
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    # On SQLite the app's runner starts the run at once: a slow provider keeps it before its first page.
    app.state.sandbox.faults.latency_ms = 2000
    async with app.state.sessionmaker() as session, session.begin():
        log = await enqueue_sync(
            session,
            team_id=owner.team_id,
            integration_id=integration_id,
            workspace_id=owner.workspace_id,
            trigger="test",
        )
    assert log is not None
    path = f"/api/integrations/{integration_id}/sync/{log.id}/cancel"
    member = await add_member(owner, Role.member)
    assert_error(await client.post(path, headers=member.headers), 403, "FORBIDDEN")
    assert_error(await client.post(path, headers=other_team.headers), 404, "NOT_FOUND")
    # The run named through another integration of the team, or with an id that names nothing.
    slack = (await start(client, owner, "slack")).id
    for other_path in (
        f"/api/integrations/{slack}/sync/{log.id}/cancel",
        *(f"/api/integrations/{unknown}/sync/{log.id}/cancel" for unknown in UNKNOWN_IDS),
        *(f"/api/integrations/{integration_id}/sync/{unknown}/cancel" for unknown in UNKNOWN_IDS),
    ):
        assert_error(await client.post(other_path, headers=owner.headers), 404, "NOT_FOUND")
    # Nothing changed by the refusals.
    state = await job_state(app, str(log.job_id))
    assert state is not None
    assert (await _logs(app))[0].status == "running"

    cancelled = await client.post(path, headers=owner.headers)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["id"], body["status"], body["itemsSynced"]) == (log.id, "cancelled", 0)
    assert body["error"].startswith("Cancelled")
    again = await client.post(path, headers=owner.headers)
    assert assert_error(again, 409, "CONFLICT")["details"] == {"syncLogId": log.id, "status": "cancelled"}
    await run_jobs(app)
    assert await row_count(app, WorkItem) == 0
    state = await job_state(app, str(log.job_id))
    assert state is not None
    # Never started (nothing runs jobs in this PostgreSQL app): cancelled. On SQLite the runner may have started
    # it already: then it stopped without writing a page.
    assert state[0] in (("cancelled",) if is_postgres(app) else ("cancelled", "succeeded"))
    assert (await _logs(app))[0].status == "cancelled"


async def test_many_workspaces_each_get_their_run_on_one_connection(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    # More runs than PostgreSQL plans a prepared statement for before it switches to a generic plan.
    integration_id = await connect_and_enable(app, client, owner, "github")
    workspaces = [owner.workspace_id]
    for number in range(8):
        created = await client.post("/api/workspaces", json={"name": f"Team {number}"}, headers=owner.headers)
        assert created.status_code == 201, created.text
        enabled = await client.post(
            f"/api/workspaces/{created.json()['id']}/integrations",
            json={"integrationId": integration_id, "defaultProject": "acme/product"},
            headers=owner.headers,
        )
        assert enabled.status_code == 201, enabled.text
        workspaces.append(created.json()["id"])
    async with app.state.sessionmaker() as session, session.begin():
        logs = [
            await enqueue_sync(
                session, team_id=owner.team_id, integration_id=integration_id, workspace_id=workspace, trigger="test"
            )
            for workspace in workspaces
        ]
        again = [
            await enqueue_sync(
                session, team_id=owner.team_id, integration_id=integration_id, workspace_id=workspace, trigger="test"
            )
            for workspace in workspaces
        ]
    assert all(log is not None for log in logs)
    assert again == [None] * len(workspaces)
    assert len(await _logs(app)) == len(workspaces)


async def test_concurrent_synchronous_syncs_make_one_run_and_409s_naming_it(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id, expected = await github_with(app, client, owner, volume=300, latency_ms=100)
    body = import_request(owner).model_dump(mode="json", by_alias=True)
    path = f"/api/integrations/{integration_id}/sync"
    synchronous = [client.post(path, json=body, headers=owner.headers) for _ in range(6)]
    queued = [client.post(path, json={**body, "async": True}, headers=owner.headers) for _ in range(2)]
    responses = await asyncio.gather(*synchronous, *queued)

    statuses = [response.status_code for response in responses]
    assert sorted(statuses) == [200] + [409] * 7, [response.text for response in responses]
    (winner,) = [response.json() for response in responses if response.status_code == 200]
    assert winner["status"] == "completed"
    assert winner["itemsSynced"] == len(expected)
    refusals = [response.json()["error"] for response in responses if response.status_code == 409]
    # Every refusal saw the winner's log: committed with its request, before the run.
    assert {error["details"].get("syncLogId") for error in refusals} <= {winner["syncLogId"], None}
    (log,) = await _logs(app)
    assert (log.id, log.status, log.job_id) == (winner["syncLogId"], "completed", None)
    assert await row_count(app, WorkItem) == len(expected)


async def test_a_synchronous_sync_while_one_is_queued_is_refused_and_writes_nothing(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    body = import_request(owner).model_dump(mode="json", by_alias=True)
    path = f"/api/integrations/{integration_id}/sync"
    queued = await client.post(path, json={**body, "async": True}, headers=owner.headers)
    assert queued.status_code == 202, queued.text
    refused = await client.post(path, json=body, headers=owner.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["syncLogId"] == queued.json()["syncLogId"]
    assert [log.id for log in await _logs(app)] == [queued.json()["syncLogId"]]
    await run_jobs(app)
    again = await client.post(path, json=body, headers=owner.headers)
    assert again.status_code == 200, again.text
    assert again.json()["itemsSynced"] == 0
