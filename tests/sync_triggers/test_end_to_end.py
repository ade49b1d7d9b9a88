"""Pushed and scheduled syncs end to end: a change at the (sandbox) provider → its signed webhook → a sync job →
the work item visible through the API; a due schedule → the scheduler task → the same. Both job backends."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from platform_server.integrations.models import SyncLog, WorkspaceIntegration
from platform_server.integrations.push.service import push_service
from platform_server.integrations.sync.schedule import schedule_due
from platform_server.jobs.registry import JobContext
from tests.conftest import Member
from tests.jobs.helpers import run_jobs
from tests.sync.helpers import items, wait_for_sync
from tests.sync_triggers.helpers import connect_with_push, github_delivery, push_webhooks, stored_secret

WAIT_SECONDS = 120.0


async def _visible(client: httpx.AsyncClient, member: Member, title: str | None) -> dict[str, Any]:
    """Polls the work items API until an item has this title (any item for None): the sync ran."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            found = [item for item in await items(client, member) if title in (None, item["title"])]
            if found:
                return found[0]
            await asyncio.sleep(0.1)


async def _change(client: httpx.AsyncClient, provider: str, item: str, changes: dict[str, Any]) -> None:
    response = await client.post(
        "/sandbox/_control/changes", json={"provider": provider, "item": item, "changes": changes}
    )
    assert response.status_code == 200, response.text


async def test_github_issue_changed_upstream_is_imported(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    await connect_with_push(client, owner, "github")
    await _change(client, "github", "acme/product#2", {"title": "Changed at GitHub"})
    item = await _visible(client, owner, "Changed at GitHub")
    assert item["key"] == "acme/product#2"
    delivered = [d for d in app.state.sandbox.webhooks.deliveries if d.event == "issues"]
    assert [d.status for d in delivered] == [200]


async def test_linear_issue_created_through_the_api_is_imported(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    await connect_with_push(client, owner, "linear")
    team_id = app.state.sandbox.world("linear").teams["ENG"].id
    token = app.state.sandbox.mint_token("linear").access_token
    created = await client.post(
        "/sandbox/linear/graphql",
        json={
            "query": "mutation($input: IssueCreateInput!) { issueCreate(input: $input) { success } }",
            "variables": {"input": {"teamId": team_id, "title": "Created in Linear"}},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 200, created.text
    assert created.json()["data"]["issueCreate"]["success"] is True
    await _visible(client, owner, "Created in Linear")


async def test_jira_issue_changed_upstream_is_imported(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    await connect_with_push(client, owner, "jira")
    await _change(client, "jira", "PROJ-2", {"summary": "Changed in Jira"})
    item = await _visible(client, owner, "Changed in Jira")
    assert item["key"] == "PROJ-2"


async def test_a_burst_of_events_queues_one_sync(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    """Fifty verified events in one transaction: the queueing lock leaves exactly one queued import."""
    integration_id, _ = await connect_with_push(client, owner, "github")
    (webhook,) = await push_webhooks(app, integration_id)
    secret = stored_secret(app, webhook)
    issue = {"action": "edited", "issue": {"number": 1}, "repository": {"full_name": "acme/product"}}
    async with app.state.sessionmaker() as session, session.begin():
        queued = 0
        for _ in range(50):
            body, headers = github_delivery(secret, "issues", issue)
            event = await push_service.verify_github(
                session, app.state, body, {name.lower(): value for name, value in headers.items()}
            )
            queued += (await push_service.apply(session, event)).queued
    assert queued == 1
    async with app.state.sessionmaker() as session:
        logs = await session.scalar(
            select(func.count()).select_from(SyncLog).where(SyncLog.workspace_id == owner.workspace_id)
        )
    assert logs == 1
    async with app.state.sessionmaker() as session:
        queued_log = await session.scalar(select(SyncLog).where(SyncLog.workspace_id == owner.workspace_id))
    assert queued_log is not None
    await run_jobs(app)
    log = await wait_for_sync(app, queued_log.id)
    assert (log.integration_id, log.status) == (integration_id, "completed")


async def test_due_schedule_is_imported_by_the_scheduler_task(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id, access_id = await connect_with_push(client, owner, "github")
    response = await client.patch(
        f"/api/workspaces/{owner.workspace_id}/integrations/{integration_id}",
        json={"syncIntervalMinutes": 15},
        headers=owner.headers,
    )
    assert response.status_code == 200
    assert await items(client, owner) == []
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(WorkspaceIntegration)
            .where(WorkspaceIntegration.id == access_id)
            .values(next_sync_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    await schedule_due(JobContext(resources=app.state.resources, job_id="test-schedule", attempt=1))
    await run_jobs(app)
    await _visible(client, owner, None)
    async with app.state.sessionmaker() as session:
        access = await session.get(WorkspaceIntegration, access_id)
        log = await session.scalar(select(SyncLog).where(SyncLog.workspace_id == owner.workspace_id))
    assert access is not None
    assert access.next_sync_at is not None
    assert access.next_sync_at > datetime.now(UTC)
    assert access.schedule_skips == 0
    assert log is not None
    assert (log.sync_type, log.source_entity, log.target_entity) == ("import", "issues", "work_items")
