"""Imports and exports where the providers behave in ways a naive client gets wrong, through the sandbox."""

from typing import Any

import httpx

from platform_server.integrations.models import Integration, SyncLog
from platform_server.sandbox.github import issue_json, pull_json
from platform_server.sandbox.worlds import GITHUB_READER
from tests.conftest import Member
from tests.integrations.helpers import connect
from tests.sync.helpers import connect_and_enable, items, sync


async def account_metadata(app: Any, integration_id: str) -> dict[str, Any]:
    async with app.state.sessionmaker() as session:
        integration = await session.get(Integration, integration_id)
        assert integration is not None
        return dict(integration.account_metadata)


async def test_jira_incremental_sync_writes_its_watermark_in_the_users_time_zone(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    jira = app.state.sandbox.world("jira")
    integration_id = await connect_and_enable(app, client, owner, "jira")
    assert (await account_metadata(app, integration_id))["timeZone"] == jira.time_zone == "America/Los_Angeles"
    await sync(client, owner, integration_id)
    # The first change moves the watermark to now; the next run's `updated >= …` is then read as Los Angeles
    # time, so a watermark written in UTC would lie eight hours in the future and skip the second change.
    jira.touch("PROJ-3", summary="First change")
    assert (await sync(client, owner, integration_id))["itemsSynced"] == 1
    jira.touch("PROJ-4", summary="Second change")
    assert (await sync(client, owner, integration_id))["itemsSynced"] == 1
    changed = {item["key"]: item["title"] for item in await items(client, owner)}
    assert (changed["PROJ-3"], changed["PROJ-4"]) == ("First change", "Second change")


async def test_jira_export_picks_an_issue_type_the_project_has(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    store = app.state.sandbox
    design = store.world("jira").projects["DES"]
    assert "Task" not in {kind["name"] for kind in design.issue_types}
    integration_id = await connect_and_enable(app, client, owner, "jira", "DES")
    for title in ("First export", "Second export"):
        response = await client.post(
            "/api/work-items", json={"workspaceId": owner.workspace_id, "title": title}, headers=owner.headers
        )
        assert response.status_code == 201
    meta_path = "/ex/jira/{cloud_id}/rest/api/3/issue/createmeta/{project}/issuetypes"
    before = store.count("jira", "GET", meta_path)
    exported = await sync(client, owner, integration_id, "work_items", "issues", sync_type="export")
    assert (exported["status"], exported["itemsSynced"]) == ("completed", 2)
    # The issue types are read once per run, and the first standard type wins over the epic and the subtask.
    assert store.count("jira", "GET", meta_path) - before == 1
    created = [design.seq.overrides[number]["issuetype"]["name"] for number in (design.seq.last - 1, design.seq.last)]
    assert created == ["Story", "Story"]


async def test_github_pull_requests_closed_without_merging_import_as_canceled(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    world = app.state.sandbox.world("github")
    repo = world.repos["acme/product"]
    integration_id = await connect_and_enable(app, client, owner, "github")
    await sync(client, owner, integration_id, "pull_requests")
    statuses = {item["key"]: item["status"] for item in await items(client, owner)}
    closed = [
        number for number in range(1, repo.seq.last + 1) if repo.is_pull(number) and repo.state(number) == "closed"
    ]
    merged = {number for number in closed if pull_json(world, repo, number)["merged_at"]}
    assert merged
    assert set(closed) - merged
    for number in closed:
        assert statuses[f"acme/product#{number}"] == ("done" if number in merged else "canceled"), number


async def test_github_export_records_labels_dropped_for_a_user_without_push_access(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    repo = app.state.sandbox.world("github").repos["acme/product"]
    authorization = await connect(client, owner, "github", login=GITHUB_READER)
    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/integrations",
        json={"integrationId": authorization.id, "defaultProject": "acme/product"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    response = await client.post(
        "/api/work-items",
        json={"workspaceId": owner.workspace_id, "title": "Labelled", "labels": ["bug", "ui"]},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    exported = await sync(client, owner, authorization.id, "work_items", "issues", sync_type="export")
    assert (exported["status"], exported["itemsSynced"]) == ("completed", 1)
    assert issue_json(app.state.sandbox.world("github"), repo, repo.seq.last)["labels"] == []
    async with app.state.sessionmaker() as session:
        log = await session.get(SyncLog, exported["syncLogId"])
    assert log is not None
    assert log.status == "completed"
    assert log.error is not None
    assert "labels bug, ui" in log.error
    assert "no push access" in log.error
