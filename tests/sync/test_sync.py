"""POST /api/integrations/{id}/sync end to end through the sandbox, on SQLite and PostgreSQL."""

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_server.integrations.models import SyncLog
from platform_server.integrations.sync.repository import FAILED, RUNNING
from platform_server.integrations.sync.schemas import SyncRequest, SyncType
from platform_server.integrations.sync.service import STALE_AFTER
from platform_server.models import Feature, WorkItem
from platform_server.sandbox.common import stable_uuid
from platform_server.sandbox.github import pull_json
from tests.conftest import Member, row_count
from tests.sync.helpers import connect_and_enable, items, notion_database, pushed_syncs_settled, sync, wait_for_sync

ISSUES_PATH = "/repos/{owner}/{repo}/issues"


def github_repo(app: Any) -> Any:
    return app.state.sandbox.world("github").repos["acme/product"]


def expected_github(app: Any, *, pulls: bool) -> dict[str, str]:
    """key → our status, computed from the sandbox's own data."""
    repo = github_repo(app)
    expected = {}
    for number in range(1, repo.seq.last + 1):
        if repo.is_pull(number) != pulls:
            continue
        if repo.state(number) == "open":
            expected[f"acme/product#{number}"] = "in_review" if pulls else "todo"
        else:
            merged = not pulls or pull_json(app.state.sandbox.world("github"), repo, number)["merged_at"]
            expected[f"acme/product#{number}"] = "done" if merged else "canceled"
    return expected


def import_request(member: Member) -> SyncRequest:
    return SyncRequest(
        sync_type=SyncType.import_, workspace_id=member.workspace_id, source_entity="issues", target_entity="work_items"
    )


async def logs(app: Any) -> list[SyncLog]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(SyncLog).order_by(SyncLog.started_at, SyncLog.id))).all())


async def test_github_issues_import_then_resync_then_incremental(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    store = app.state.sandbox
    integration_id = await connect_and_enable(app, client, owner, "github")
    expected = expected_github(app, pulls=False)

    first = await sync(client, owner, integration_id)
    assert set(first) == {"syncLogId", "status", "itemsSynced", "duration"}
    assert (first["status"], first["itemsSynced"]) == ("completed", len(expected))
    imported = await items(client, owner)
    assert {item["key"]: item["status"] for item in imported} == expected
    one = next(item for item in imported if item["key"] == "acme/product#1")
    assert one["url"].endswith("/acme/product/issues/1")
    assert (one["sourceProvider"], one["sourceEntity"], one["integrationId"]) == ("github", "issues", integration_id)
    assert one["sourceUpdatedAt"].endswith("Z")

    again = await sync(client, owner, integration_id)
    assert again["itemsSynced"] == 0
    assert await row_count(app, WorkItem) == len(expected)

    # One issue changes at GitHub (closed, retitled): the next sync fetches one page and updates one item.
    github_repo(app)  # the world exists; touch it like a user would
    store.world("github").touch("acme/product", 2, state="closed", title="Renamed at GitHub")
    before = store.count("github", "GET", ISSUES_PATH)
    changed = await sync(client, owner, integration_id)
    assert changed["itemsSynced"] == 1
    assert store.count("github", "GET", ISSUES_PATH) - before == 1
    renamed = next(item for item in await items(client, owner) if item["key"] == "acme/product#2")
    assert (renamed["title"], renamed["status"]) == ("Renamed at GitHub", "done")
    assert await row_count(app, WorkItem) == len(expected)

    detail = (await client.get(f"/api/integrations/{integration_id}", headers=owner.headers)).json()
    assert detail["lastSyncAt"] is not None
    assert [log["items_synced"] for log in detail["syncLogs"]] == [1, 0, len(expected)]
    assert {log["status"] for log in detail["syncLogs"]} == {"completed"}


async def test_github_pull_requests_import(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    expected = expected_github(app, pulls=True)
    result = await sync(client, owner, integration_id, "pull_requests")
    assert result["itemsSynced"] == len(expected)
    imported = await items(client, owner)
    assert {item["key"]: item["status"] for item in imported} == expected
    # Merged and closed-without-merging pull requests are both in the data, and import differently.
    assert {"done", "canceled"} <= set(expected.values())
    assert {item["sourceEntity"] for item in imported} == {"pull_requests"}
    assert (await sync(client, owner, integration_id, "pull_requests"))["itemsSynced"] == 0


@pytest.mark.parametrize(("provider", "key_prefix"), [("jira", "PROJ-"), ("linear", "ENG-")])
async def test_jira_and_linear_issues_import(
    app: Any, client: httpx.AsyncClient, owner: Member, provider: str, key_prefix: str
) -> None:
    volume = app.state.sandbox.faults.volume
    integration_id = await connect_and_enable(app, client, owner, provider)
    result = await sync(client, owner, integration_id)
    assert (result["status"], result["itemsSynced"]) == ("completed", volume)
    imported = await items(client, owner)
    assert len(imported) == volume
    assert all(item["key"].startswith(key_prefix) for item in imported)
    assert {item["status"] for item in imported} <= {"todo", "in_progress", "done", "canceled"}
    assert any(item["description"] for item in imported)
    assert (await sync(client, owner, integration_id))["itemsSynced"] == 0
    assert await row_count(app, WorkItem) == volume


async def test_jira_changes_are_picked_up_incrementally(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    store = app.state.sandbox
    integration_id = await connect_and_enable(app, client, owner, "jira")
    await sync(client, owner, integration_id)
    store.world("jira").touch("PROJ-3", summary="Changed in Jira")
    assert (await sync(client, owner, integration_id))["itemsSynced"] == 1
    changed = next(item for item in await items(client, owner) if item["key"] == "PROJ-3")
    assert changed["title"] == "Changed in Jira"


async def test_linear_changes_are_picked_up_incrementally(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    store = app.state.sandbox
    integration_id = await connect_and_enable(app, client, owner, "linear")
    await sync(client, owner, integration_id)
    store.world("linear").touch("ENG-5", title="Changed in Linear")
    assert (await sync(client, owner, integration_id))["itemsSynced"] == 1
    changed = next(item for item in await items(client, owner) if item["key"] == "ENG-5")
    assert changed["title"] == "Changed in Linear"


def notion_database_page_ids(app: Any) -> set[str]:
    """Every page of the roadmap database (both data sources), as feature external ids."""
    notion = app.state.sandbox.world("notion")
    ids = {notion.roadmap_id(n) for n in range(1, notion.roadmap.total + 1)}
    ids |= {pid for pid, page in notion.pages.items() if page["parent"].get("database_id") == notion.database_id}
    return {page_id.replace("-", "") for page_id in ids}


async def feature_ids(app: Any) -> set[str]:
    async with app.state.sessionmaker() as session:
        return set((await session.scalars(select(Feature.external_id))).all())


async def test_notion_database_import_reads_every_data_source_not_search(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    store = app.state.sandbox
    notion = store.world("notion")
    # Notion's search is not exhaustive: here it stops after 20 results. A database import must not care.
    notion.search_limit = 20
    integration_id = await connect_and_enable(app, client, owner, "notion", notion_database(app))
    expected = notion_database_page_ids(app)
    assert len(expected) == store.faults.volume + 3
    result = await sync(client, owner, integration_id, "pages", "features")
    assert result["itemsSynced"] == len(expected)
    assert await feature_ids(app) == expected
    features = await items(client, owner, "/api/features")
    assert {feature["sourceEntity"] for feature in features} == {"pages"}
    assert all(feature["description"] for feature in features)
    # Nested blocks are part of the description, indented under their parent.
    roadmap_one = next(f for f in features if f["url"].endswith(notion.roadmap_id(1).replace("-", "")))
    assert (
        "- [ ] Write the spec\n  - [ ] List the open questions\n- [ ] Review with design"
        in (roadmap_one["description"])
    )
    assert store.count("notion", "POST", "/v1/search") == 0

    before = store.count("notion")
    assert (await sync(client, owner, integration_id, "pages", "features"))["itemsSynced"] == 0
    # Unchanged pages cost no block reads: the database, then one query per data source.
    assert store.count("notion") - before == 3
    assert store.count("notion", "POST", "/v1/search") == 0

    notion.touch(4, title="Renamed in Notion")
    assert (await sync(client, owner, integration_id, "pages", "features"))["itemsSynced"] == 1
    assert await row_count(app, Feature) == len(expected)
    assert "Renamed in Notion" in {feature["title"] for feature in await items(client, owner, "/api/features")}


async def test_notion_workspace_import_never_stops_at_what_search_shows(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    store = app.state.sandbox
    notion = store.world("notion")
    notion.search_limit = 20
    integration_id = await connect_and_enable(app, client, owner, "notion", "")
    await sync(client, owner, integration_id, "pages", "features")
    # Search stopped short, yet every database page came through its data source's query.
    assert notion_database_page_ids(app) <= await feature_ids(app)

    # Search catches up. The pages it had left out were edited long before the cursor, so a run that stopped
    # search at the cursor would never import them.
    notion.search_limit = None
    standalone = {pid.replace("-", "") for pid, page in notion.pages.items() if page["parent"]["type"] == "workspace"}
    assert not standalone & await feature_ids(app)
    assert (await sync(client, owner, integration_id, "pages", "features"))["itemsSynced"] == len(standalone)
    assert await feature_ids(app) == notion_database_page_ids(app) | standalone
    assert (await sync(client, owner, integration_id, "pages", "features"))["itemsSynced"] == 0


async def test_notion_workspace_import_catches_pages_search_indexes_late(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    store = app.state.sandbox
    notion = store.world("notion")
    integration_id = await connect_and_enable(app, client, owner, "notion", "")
    await sync(client, owner, integration_id, "pages", "features")

    # An edit five minutes ago that search has not indexed yet, and a newer one to a database page, which its
    # data source's query shows at once.
    notion.search_index_delay = 600
    notes = next(pid for pid, page in notion.pages.items() if page["title"] == "Meeting Notes")
    notion.edit_page(notes, edited=time.time() - 300, title="Meeting Notes (renamed)")
    notion.touch(4, title="Renamed in Notion")
    assert (await sync(client, owner, integration_id, "pages", "features"))["itemsSynced"] == 1
    # Search catches up; the late page's edit is older than the cursor the last run left.
    notion.search_index_delay = 0
    assert (await sync(client, owner, integration_id, "pages", "features"))["itemsSynced"] == 1
    titles = {feature["title"] for feature in await items(client, owner, "/api/features")}
    assert {"Meeting Notes (renamed)", "Renamed in Notion"} <= titles


async def test_notion_page_import_takes_the_pages_child_pages(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    store = app.state.sandbox
    notion = store.world("notion")
    handbook = next(pid for pid, page in notion.pages.items() if page["title"] == "Engineering Handbook")
    for hours, title in ((2, "FAQ"), (1, "On-call")):
        page_id = stable_uuid("test-child", title)
        notion.pages[page_id] = {
            "title": title,
            "parent": {"type": "page_id", "page_id": handbook},
            "created": time.time() - hours * 3600,
            "edited": time.time() - hours * 3600,
            "blocks": [("paragraph", f"About {title}.", ())],
        }
    integration_id = await connect_and_enable(app, client, owner, "notion", handbook)
    assert (await sync(client, owner, integration_id, "pages", "features"))["itemsSynced"] == 2
    features = await items(client, owner, "/api/features")
    assert sorted((f["title"], f["description"]) for f in features) == [
        ("FAQ", "About FAQ."),
        ("On-call", "About On-call."),
    ]
    pages_read = store.count("notion", "GET", "/v1/pages/{page_id}")
    assert (await sync(client, owner, integration_id, "pages", "features"))["itemsSynced"] == 0
    # Only the newest child, inside the re-read overlap, is read again; the older one is not.
    assert store.count("notion", "GET", "/v1/pages/{page_id}") == pages_read + 1


async def test_killed_notion_import_resumes_inside_its_data_source(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    from platform_server.integrations.sync.service import sync_service

    store = app.state.sandbox
    store.faults.volume = 250
    integration_id = await connect_and_enable(app, client, owner, "notion", notion_database(app))
    expected = notion_database_page_ids(app)

    class Killed(Exception):
        pass

    def kill_after_two_pages(_items: int, pages: int, _total: int | None) -> None:
        if pages == 2:
            raise Killed

    request = SyncRequest(
        sync_type=SyncType.import_, workspace_id=owner.workspace_id, source_entity="pages", target_entity="features"
    )
    async with app.state.sessionmaker() as session:
        plan, integration = await sync_service.plan(session, owner.team_id, integration_id, request)
    log = await sync_service.claim(app.state.sessionmaker, plan)
    with pytest.raises(Killed):
        await sync_service.run(
            app.state.sessionmaker, plan, log, app.state.token_manager.client_for(integration), kill_after_two_pages
        )
    assert await row_count(app, Feature) == 200

    queries = "/v1/data_sources/{data_source_id}/query"
    before = store.count("notion", "POST", queries)
    resumed = await sync(client, owner, integration_id, "pages", "features")
    assert resumed["itemsSynced"] == len(expected) - 200
    # The roadmap's third page, then the ideas: the resumed run does not start the roadmap over.
    assert store.count("notion", "POST", queries) - before == 2
    assert await feature_ids(app) == expected


async def test_rate_limits_and_server_errors_still_give_the_exact_set(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    store = app.state.sandbox
    store.faults.volume = 450
    integration_id = await connect_and_enable(app, client, owner, "github")
    expected = expected_github(app, pulls=False)
    store.faults.retry_after_seconds = 0
    store.faults.rate_limit_every = 3
    store.faults.error_every = 4
    result = await sync(client, owner, integration_id)
    assert result["itemsSynced"] == len(expected)
    assert {item["key"]: item["status"] for item in await items(client, owner)} == expected


async def test_killed_sync_resumes_and_matches_an_uninterrupted_one(
    app: Any, client: httpx.AsyncClient, owner: Member, make_team: Any
) -> None:
    from platform_server.integrations.sync.service import sync_service

    store = app.state.sandbox
    store.faults.volume = 450
    integration_id = await connect_and_enable(app, client, owner, "github")
    expected = expected_github(app, pulls=False)

    class Killed(Exception):
        pass

    def kill_after_two_pages(_items: int, pages: int, _total: int | None) -> None:
        if pages == 2:
            raise Killed

    async with app.state.sessionmaker() as session:
        plan, integration = await sync_service.plan(session, owner.team_id, integration_id, import_request(owner))
    log = await sync_service.claim(app.state.sessionmaker, plan)
    with pytest.raises(Killed):
        await sync_service.run(
            app.state.sessionmaker, plan, log, app.state.token_manager.client_for(integration), kill_after_two_pages
        )
    (killed,) = await logs(app)
    assert killed.status == FAILED
    assert killed.error
    assert killed.cursor
    partial = await row_count(app, WorkItem)
    assert 0 < partial < len(expected)

    before = store.count("github", "GET", ISSUES_PATH)
    resumed = await sync(client, owner, integration_id)
    assert resumed["itemsSynced"] == len(expected) - partial
    # The resumed run starts at the last committed page, not at the beginning.
    total_pages = -(-github_repo(app).seq.last // 100)
    assert store.count("github", "GET", ISSUES_PATH) - before < total_pages
    assert {item["key"]: item["status"] for item in await items(client, owner)} == expected

    # The same import into a fresh team without interruption gives the same items.
    other = await make_team("Fresh")
    other_integration = await connect_and_enable(app, client, other, "github")
    await sync(client, other, other_integration)
    assert {item["key"]: item["status"] for item in await items(client, other)} == expected


async def test_an_issue_updated_during_the_run_skips_nothing(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    from platform_server.integrations.sync.service import sync_service

    store = app.state.sandbox
    store.faults.volume = 450
    integration_id = await connect_and_enable(app, client, owner, "github")
    expected = expected_github(app, pulls=False)

    def edit_a_seen_issue(_items: int, pages: int, _total: int | None) -> None:
        # Issue #1 was on page 1; updating it moves it to the end of the listing (an offset shift).
        if pages == 1:
            store.world("github").touch("acme/product", 1, title="Edited mid-run")

    async with app.state.sessionmaker() as session:
        plan, integration = await sync_service.plan(session, owner.team_id, integration_id, import_request(owner))
    log = await sync_service.claim(app.state.sessionmaker, plan)
    client_ = app.state.token_manager.client_for(integration)
    outcome = await sync_service.run(app.state.sessionmaker, plan, log, client_, edit_a_seen_issue)
    assert outcome.status == "completed"
    imported = await items(client, owner)
    assert {item["key"]: item["status"] for item in imported} == expected
    assert next(item for item in imported if item["key"] == "acme/product#1")["title"] == "Edited mid-run"


async def test_a_dead_job_less_run_blocks_until_stale_then_the_next_run_takes_over(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    # A `platform-server sync` whose process died: no job will finish its log.
    integration_id = await connect_and_enable(app, client, owner, "github")
    async with app.state.sessionmaker() as session, session.begin():
        dead = SyncLog(
            team_id=owner.team_id,
            integration_id=integration_id,
            workspace_id=owner.workspace_id,
            sync_type="import",
            source_entity="issues",
            target_entity="work_items",
            status=RUNNING,
            items_synced=0,
        )
        session.add(dead)
    await sync(client, owner, integration_id, expect=409)

    async with app.state.sessionmaker() as session, session.begin():
        stored = await session.get(SyncLog, dead.id)
        assert stored is not None
        stored.started_at = stored.started_at - STALE_AFTER - timedelta(seconds=1)
    assert (await sync(client, owner, integration_id))["status"] == "completed"
    interrupted = next(log for log in await logs(app) if log.id == dead.id)
    assert interrupted.status == FAILED
    assert "Stalled" in (interrupted.error or "")


async def test_concurrent_sync_is_refused(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    store = app.state.sandbox
    integration_id = await connect_and_enable(app, client, owner, "github")
    store.faults.latency_ms = 200
    started = await sync(client, owner, integration_id, expect=202, **{"async": True})
    assert started == {"syncLogId": started["syncLogId"], "status": "running"}
    refused = await sync(client, owner, integration_id, expect=409)
    assert refused["error"]["code"] == "CONFLICT"
    assert refused["error"]["details"]["syncLogId"] == started["syncLogId"]
    await wait_for_sync(app, started["syncLogId"])
    store.faults.latency_ms = 0
    detail = (await client.get(f"/api/integrations/{integration_id}", headers=owner.headers)).json()
    assert detail["syncLogs"][0]["id"] == started["syncLogId"]
    assert detail["syncLogs"][0]["status"] == "completed"
    assert detail["syncLogs"][0]["items_synced"] == len(expected_github(app, pulls=False))


async def test_racing_claims_let_exactly_one_run(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    from platform_server.errors import Conflict
    from platform_server.integrations.sync.service import sync_service

    integration_id = await connect_and_enable(app, client, owner, "github")
    body = import_request(owner)
    async with app.state.sessionmaker() as session:
        plan, _ = await sync_service.plan(session, owner.team_id, integration_id, body)
    results = await asyncio.gather(
        *(sync_service.claim(app.state.sessionmaker, plan) for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(result, SyncLog) for result in results) == 1
    assert sum(isinstance(result, Conflict) for result in results) == 3


async def test_export_creates_and_links_issues_once(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    store = app.state.sandbox
    integration_id = await connect_and_enable(app, client, owner, "github")
    for title in ("Export me", "And me"):
        response = await client.post(
            "/api/work-items", json={"workspaceId": owner.workspace_id, "title": title}, headers=owner.headers
        )
        assert response.status_code == 201
    posts = store.count("github", "POST", ISSUES_PATH)
    exported = await sync(client, owner, integration_id, "work_items", "issues", sync_type="export")
    assert exported["itemsSynced"] == 2
    assert store.count("github", "POST", ISSUES_PATH) - posts == 2
    linked = await items(client, owner)
    assert all(item["key"].startswith("acme/product#") and item["integrationId"] == integration_id for item in linked)
    # The issues just created come back as the repository webhook's events and queue a pushed import.
    await pushed_syncs_settled(app)

    again = await sync(client, owner, integration_id, "work_items", "issues", sync_type="export")
    assert again["itemsSynced"] == 0
    assert store.count("github", "POST", ISSUES_PATH) - posts == 2

    # Importing afterwards finds the exported issues already linked: no duplicates.
    await sync(client, owner, integration_id)
    assert await row_count(app, WorkItem) == len(expected_github(app, pulls=False))


@pytest.mark.parametrize(("provider", "key_prefix"), [("jira", "PROJ-"), ("linear", "ENG-")])
async def test_export_to_jira_and_linear(
    app: Any, client: httpx.AsyncClient, owner: Member, provider: str, key_prefix: str
) -> None:
    integration_id = await connect_and_enable(app, client, owner, provider)
    response = await client.post(
        "/api/work-items",
        json={"workspaceId": owner.workspace_id, "title": "Exported", "description": "Body"},
        headers=owner.headers,
    )
    assert response.status_code == 201
    assert (await sync(client, owner, integration_id, "work_items", "issues", sync_type="export"))["itemsSynced"] == 1
    (item,) = await items(client, owner)
    assert item["key"].startswith(key_prefix)
    assert item["externalId"]
    assert (await sync(client, owner, integration_id, "work_items", "issues", sync_type="export"))["itemsSynced"] == 0
