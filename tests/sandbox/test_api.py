"""The simulated APIs refuse what the real ones refuse, page like them, and obey the control knobs."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from platform_server.sandbox.store import SandboxStore
from platform_server.sandbox.worlds import JiraWorld
from tests.sandbox.conftest import bearer

NOTION = {"Notion-Version": "2025-09-03"}
OLD_NOTION = {"Notion-Version": "2022-06-28"}
JIRA = "/ex/jira/{cloud}/rest/api/3"

# (provider, method, path, json body) of every API endpoint behind the tools and importers.
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("github", "GET", "/user", None),
    ("github", "GET", "/user/repos", None),
    ("github", "GET", "/orgs/acme/repos", None),
    ("github", "GET", "/repos/acme/product", None),
    ("github", "GET", "/repos/acme/product/issues", None),
    ("github", "POST", "/repos/acme/product/issues", {"title": "x"}),
    ("github", "GET", "/repos/acme/product/issues/1", None),
    ("github", "GET", "/repos/acme/product/pulls", None),
    ("jira", "GET", "/oauth/token/accessible-resources", None),
    ("jira", "GET", f"{JIRA}/myself", None),
    ("jira", "GET", f"{JIRA}/project/search", None),
    ("jira", "GET", f"{JIRA}/search/jql?jql=project=PROJ", None),
    ("jira", "POST", f"{JIRA}/search/jql", {"jql": "project = PROJ"}),
    ("jira", "POST", f"{JIRA}/issue", {"fields": {}}),
    ("jira", "GET", f"{JIRA}/issue/createmeta/DES/issuetypes", None),
    ("jira", "GET", f"{JIRA}/issue/PROJ-1", None),
    ("jira", "GET", f"{JIRA}/issue/PROJ-1/transitions", None),
    ("jira", "POST", f"{JIRA}/issue/PROJ-1/transitions", {"transition": {"id": "31"}}),
    ("linear", "POST", "/graphql", {"query": "{ viewer { id } }"}),
    ("notion", "GET", "/v1/users/me", None),
    ("notion", "POST", "/v1/search", {}),
    ("notion", "POST", "/v1/pages", {}),
    ("notion", "GET", "/v1/pages/{page}", None),
    ("notion", "GET", "/v1/databases/{database}", None),
    ("notion", "GET", "/v1/data_sources/{source}", None),
    ("notion", "POST", "/v1/data_sources/{source}/query", {}),
    ("notion", "GET", "/v1/blocks/{page}/children", None),
    ("slack", "POST", "/api/auth.test", None),
    ("slack", "GET", "/api/conversations.list", None),
    ("slack", "POST", "/api/chat.postMessage", {"channel": "C0000000001", "text": "x"}),
    ("slack", "GET", "/api/search.messages?query=x", None),
    ("figma", "GET", "/v1/me", None),
    ("figma", "GET", "/v1/teams/1160000000000000001/projects", None),
    ("figma", "GET", "/v1/projects/2001/files", None),
    ("figma", "GET", "/v1/files/{file}", None),
    ("figma", "GET", "/v1/images/{file}?ids=1:1", None),
]


def concrete(store: SandboxStore, path: str) -> str:
    jira: JiraWorld = store.world("jira")
    notion = store.world("notion")
    return path.format(
        cloud=jira.cloud_id,
        page=notion.roadmap_id(1),
        database=notion.database_id,
        source=notion.roadmap_source_id,
        file=next(iter(store.world("figma").files)),
    )


def unauthorized(provider: str, response: httpx.Response) -> bool:
    if provider == "slack":
        return response.status_code == 200 and response.json()["ok"] is False
    if provider == "figma":
        # Figma refuses bad tokens with 403; the message tells it from a permission error.
        return response.status_code == 403 and response.json()["err"] in ("Invalid token", "Token expired")
    return response.status_code == 401


@pytest.mark.parametrize(
    ("provider", "method", "path", "body"), ENDPOINTS, ids=[f"{e[0]} {e[1]} {e[2]}" for e in ENDPOINTS]
)
async def test_every_endpoint_requires_a_live_token(
    provider: str, method: str, path: str, body: Any, http: httpx.AsyncClient, store: SandboxStore
) -> None:
    url = f"/sandbox/{provider}{concrete(store, path)}"
    good = store.mint_token(provider)
    token = good.user_access_token if "search.messages" in path else good.access_token
    assert token is not None
    expired = store.mint_token(provider).access_token
    store.expire_token(expired)
    revoked = store.mint_token(provider)
    store.revoke_grant(revoked.grant)
    other_provider = store.mint_token("github" if provider != "github" else "figma").access_token
    cases = {
        "missing": {},
        "unknown": bearer("not-a-token"),
        "expired": bearer(expired),
        "revoked": bearer(revoked.access_token),
        "other provider": bearer(other_provider),
    }
    for case, headers in cases.items():
        response = await http.request(method, url, json=body, headers={**headers, **NOTION})
        assert unauthorized(provider, response), (case, response.status_code, response.text)
    if provider == "slack":
        errors = [
            (await http.request(method, url, json=body, headers={**cases[name], **NOTION})).json()["error"]
            for name in ("missing", "unknown", "expired", "revoked")
        ]
        assert errors == ["not_authed", "invalid_auth", "token_expired", "token_revoked"]
    response = await http.request(method, url, json=body, headers={**bearer(token), **NOTION})
    assert not unauthorized(provider, response), response.text


@pytest.mark.parametrize(
    ("provider", "method", "path", "status", "shape"),
    [
        ("github", "DELETE", "/user", 405, "message"),
        ("github", "GET", "/no/such/route", 404, "message"),
        ("jira", "PUT", f"{JIRA}/myself", 405, "errorMessages"),
        ("linear", "GET", "/graphql", 405, "errors"),
        ("notion", "DELETE", "/v1/search", 405, "code"),
        ("slack", "GET", "/api/no.such.method", 404, "error"),
        ("figma", "POST", "/v1/me", 405, "err"),
    ],
)
async def test_wrong_methods_and_routes_answer_in_the_providers_shape(
    provider: str,
    method: str,
    path: str,
    status: int,
    shape: str,
    http: httpx.AsyncClient,
    store: SandboxStore,
) -> None:
    headers = {**bearer(store.mint_token(provider).access_token), **NOTION}
    response = await http.request(method, f"/sandbox/{provider}{concrete(store, path)}", headers=headers)
    assert response.status_code == status
    assert shape in response.json()


async def test_github_rejects_bad_parameters(http: httpx.AsyncClient, store: SandboxStore) -> None:
    headers = bearer(store.mint_token("github").access_token)
    issues = "/sandbox/github/repos/acme/product/issues"
    for params in ({"state": "sideways"}, {"sort": "random"}, {"direction": "up"}, {"since": "yesterday"}):
        response = await http.get(issues, params=params, headers=headers)
        assert (response.status_code, response.json()["message"]) == (422, "Validation Failed"), params
    assert (await http.get(issues, params={"per_page": "many"}, headers=headers)).status_code == 400
    # Like GitHub, out-of-range page sizes are clamped rather than refused.
    assert len((await http.get(issues, params={"per_page": 500, "state": "all"}, headers=headers)).json()) == 100

    missing_title = await http.post(issues, json={"body": "no title"}, headers=headers)
    assert missing_title.status_code == 422
    assert missing_title.json()["errors"][0]["code"] == "missing_field"
    not_json = await http.post(issues, content=b"{oops", headers=headers)
    assert not_json.status_code == 400
    assert not_json.json()["message"] == "Problems parsing JSON"
    unknown_assignee = await http.post(issues, json={"title": "t", "assignees": ["mallory"]}, headers=headers)
    assert unknown_assignee.status_code == 422
    assert store.world("github").repos["acme/product"].seq.created == 0


async def test_github_incremental_listing_with_since(http: httpx.AsyncClient, store: SandboxStore) -> None:
    headers = bearer(store.mint_token("github").access_token)
    issues = "/sandbox/github/repos/acme/product/issues"
    params = {"state": "all", "sort": "updated", "direction": "asc", "per_page": 100}
    everything = (await http.get(issues, params=params, headers=headers)).json()
    assert len(everything) == 100
    assert any("pull_request" in item for item in everything)
    moment = time.time()
    store.world("github").touch("acme/product", 7, title="Changed at GitHub", state="closed")
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment - 1))
    changed = (await http.get(issues, params={**params, "since": since}, headers=headers)).json()
    assert [(item["number"], item["title"], item["state"]) for item in changed] == [(7, "Changed at GitHub", "closed")]
    closed = (await http.get(issues, params={"state": "closed", "per_page": 100}, headers=headers)).json()
    assert 7 in [item["number"] for item in closed]


async def test_volume_knob_and_link_pagination(http: httpx.AsyncClient, store: SandboxStore) -> None:
    store.faults.volume = 10_000
    headers = bearer(store.mint_token("github").access_token)
    first = await http.get(
        "/sandbox/github/repos/acme/product/issues", params={"state": "all", "per_page": 100}, headers=headers
    )
    last_link = first.links["last"]["url"]
    assert "page=125" in last_link
    last = (await http.get(last_link, headers=headers)).json()
    assert len(last) == 99
    assert "next" not in (await http.get(last_link, headers=headers)).links
    numbers = {item["number"] for item in first.json()} | {item["number"] for item in last}
    assert max(numbers) == 12_499
    issues_only = sum(1 for n in range(1, 12_500) if n % 5)
    assert issues_only == 10_000


async def test_jira_search_rules(http: httpx.AsyncClient, store: SandboxStore) -> None:
    headers = bearer(store.mint_token("jira").access_token)
    search = concrete(store, f"/sandbox/jira{JIRA}/search/jql")
    unbounded = await http.post(search, json={"jql": ""}, headers=headers)
    assert unbounded.status_code == 400
    assert "Unbounded JQL" in unbounded.json()["errorMessages"][0]
    for jql, message in (
        ("project = NOPE", "does not exist for the field 'project'"),
        ("colour = red", "Field 'colour' does not exist"),
        ("project = PROJ AND updated >= someday", "Date value 'someday'"),
    ):
        response = await http.post(search, json={"jql": jql}, headers=headers)
        assert response.status_code == 400, jql
        assert message in response.json()["errorMessages"][0]
    ids_only = (await http.post(search, json={"jql": "project = DES"}, headers=headers)).json()
    assert set(ids_only["issues"][0]) == {"id"}
    # Like Jira's own definition allows, the last page says so only by carrying no token.
    assert "nextPageToken" not in ids_only
    assert "isLast" not in ids_only
    bad_token = await http.post(search, json={"jql": "project = DES", "nextPageToken": "forged"}, headers=headers)
    assert bad_token.status_code == 400

    jira: JiraWorld = store.world("jira")
    jira.touch("PROJ-3", summary="Edited in Jira")
    a_minute_ago = datetime.now(UTC) - timedelta(minutes=1)

    async def updated_since(moment: datetime) -> list[tuple[str, str]]:
        jql = f'project = PROJ AND updated >= "{moment:%Y-%m-%d %H:%M}" ORDER BY updated ASC'
        response = await http.post(search, json={"jql": jql, "fields": ["summary"]}, headers=headers)
        return [(issue["key"], issue["fields"]["summary"]) for issue in response.json()["issues"]]

    # JQL dates are wall-clock time in the user's zone: the same instant written in UTC lies hours ahead.
    assert await updated_since(a_minute_ago.astimezone(ZoneInfo(jira.time_zone))) == [("PROJ-3", "Edited in Jira")]
    assert await updated_since(a_minute_ago) == []


async def test_jira_create_and_transition_validation(http: httpx.AsyncClient, store: SandboxStore) -> None:
    headers = bearer(store.mint_token("jira").access_token)
    base = concrete(store, f"/sandbox/jira{JIRA}")
    response = await http.post(
        f"{base}/issue",
        json={"fields": {"project": {"key": "PROJ"}, "description": "plain"}},
        headers=headers,
    )
    errors = response.json()["errors"]
    assert response.status_code == 400
    assert {"summary", "issuetype", "description"} <= set(errors)
    assert store.world("jira").projects["PROJ"].seq.created == 0
    bad = await http.post(f"{base}/issue/PROJ-1/transitions", json={"transition": {"id": "99"}}, headers=headers)
    assert bad.status_code == 400
    assert "not valid for this issue" in bad.json()["errorMessages"][0]
    missing = await http.get(f"{base}/issue/PROJ-99999/transitions", headers=headers)
    assert missing.status_code == 404
    read_only = bearer(store.mint_token("jira", scopes=["read:jira-work"]).access_token)
    refused = await http.post(f"{base}/issue/PROJ-1/transitions", json={"transition": {"id": "31"}}, headers=read_only)
    assert refused.status_code == 401
    assert "scope does not match" in refused.json()["message"]


async def test_linear_graphql_validation(http: httpx.AsyncClient, store: SandboxStore) -> None:
    headers = bearer(store.mint_token("linear").access_token)
    invalid = await http.post("/sandbox/linear/graphql", json={"query": "{ viewer { shoeSize } }"}, headers=headers)
    assert invalid.status_code == 400
    assert "shoeSize" in invalid.json()["errors"][0]["message"]
    too_many = await http.post(
        "/sandbox/linear/graphql", json={"query": "{ issues(first: 1000) { nodes { id } } }"}, headers=headers
    )
    assert too_many.status_code == 400
    not_json = await http.post(
        "/sandbox/linear/graphql", content=b"query", headers={**headers, "Content-Type": "text/plain"}
    )
    assert not_json.status_code == 400
    bad_team = await http.post(
        "/sandbox/linear/graphql",
        json={"query": 'mutation { issueCreate(input: {teamId: "nope", title: "x"}) { success } }'},
        headers=headers,
    )
    assert "Entity not found" in bad_team.json()["errors"][0]["message"]

    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    store.world("linear").touch("ENG-5", title="Edited in Linear")
    query = "query($f: IssueFilter) { issues(filter: $f) { nodes { identifier title } } }"
    changed = await http.post(
        "/sandbox/linear/graphql",
        json={"query": query, "variables": {"f": {"updatedAt": {"gt": moment}}}},
        headers=headers,
    )
    assert changed.json()["data"]["issues"]["nodes"] == [{"identifier": "ENG-5", "title": "Edited in Linear"}]


async def test_notion_rules(http: httpx.AsyncClient, store: SandboxStore) -> None:
    headers = bearer(store.mint_token("notion").access_token)
    no_version = await http.post("/sandbox/notion/v1/search", json={}, headers=headers)
    assert no_version.status_code == 400
    assert no_version.json()["code"] == "missing_version"
    headers.update(NOTION)
    too_big = await http.post("/sandbox/notion/v1/search", json={"page_size": 101}, headers=headers)
    assert too_big.status_code == 400
    assert too_big.json()["code"] == "validation_error"
    old_filter = await http.post(
        "/sandbox/notion/v1/search", json={"filter": {"property": "object", "value": "database"}}, headers=headers
    )
    assert old_filter.status_code == 400
    sources = await http.post(
        "/sandbox/notion/v1/search", json={"filter": {"property": "object", "value": "data_source"}}, headers=headers
    )
    assert sources.status_code == 200
    assert sources.json()["type"] == "page_or_data_source"
    assert [(r["object"], r["title"][0]["plain_text"]) for r in sources.json()["results"]] == [
        ("data_source", "Roadmap"),
        ("data_source", "Ideas"),
    ]
    unknown = await http.get("/sandbox/notion/v1/pages/00000000000000000000000000000000", headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "object_not_found"
    notion = store.world("notion")
    pages_before = len(notion.pages)
    no_parent = await http.post("/sandbox/notion/v1/pages", json={"properties": {}}, headers=headers)
    assert no_parent.status_code == 400
    long_title = await http.post(
        "/sandbox/notion/v1/pages",
        json={
            "parent": {"workspace": True},
            "properties": {"title": {"title": [{"text": {"content": "x" * 2001}}]}},
        },
        headers=headers,
    )
    assert long_title.status_code == 400
    database_parent = await http.post(
        "/sandbox/notion/v1/pages",
        json={
            "parent": {"database_id": notion.database_id},
            "properties": {"Name": {"title": [{"text": {"content": "x"}}]}},
        },
        headers=headers,
    )
    assert database_parent.status_code == 400
    assert "data_source_id" in database_parent.json()["message"]
    assert len(notion.pages) == pages_before

    database = await http.get(f"/sandbox/notion/v1/databases/{notion.database_id}", headers=headers)
    assert database.json()["data_sources"] == [
        {"id": notion.roadmap_source_id, "name": "Roadmap"},
        {"id": notion.ideas_source_id, "name": "Ideas"},
    ]
    assert "properties" not in database.json()
    ideas = await http.get(f"/sandbox/notion/v1/data_sources/{notion.ideas_source_id}", headers=headers)
    assert ideas.json()["parent"] == {"type": "database_id", "database_id": notion.database_id}
    assert {name: prop["type"] for name, prop in ideas.json()["properties"].items()} == {
        "Idea": "title",
        "Votes": "number",
    }
    moved = await http.post(f"/sandbox/notion/v1/databases/{notion.database_id}/query", json={}, headers=headers)
    assert (moved.status_code, moved.json()["code"]) == (400, "invalid_request_url")
    listed = await http.post(
        f"/sandbox/notion/v1/data_sources/{notion.ideas_source_id}/query", json={}, headers=headers
    )
    assert len(listed.json()["results"]) == 3
    assert {r["parent"]["data_source_id"] for r in listed.json()["results"]} == {notion.ideas_source_id}

    notion.touch(4, title="Edited in Notion")
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    query = {"filter": {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": since}}}
    edited = await http.post(
        f"/sandbox/notion/v1/data_sources/{notion.roadmap_source_id}/query", json=query, headers=headers
    )
    results = edited.json()["results"]
    assert [r["properties"]["Name"]["title"][0]["plain_text"] for r in results] == ["Edited in Notion"]


async def test_notion_multi_source_database_refuses_older_versions(
    http: httpx.AsyncClient, store: SandboxStore
) -> None:
    """Notion's answer to an older Notion-Version once a database has more than one data source."""
    notion = store.world("notion")
    headers = {**bearer(store.mint_token("notion").access_token), **OLD_NOTION}
    pages_before = len(notion.pages)
    calls = [
        http.get(f"/sandbox/notion/v1/databases/{notion.database_id}", headers=headers),
        http.post(f"/sandbox/notion/v1/databases/{notion.database_id}/query", json={}, headers=headers),
        http.post(
            "/sandbox/notion/v1/pages",
            json={
                "parent": {"database_id": notion.database_id},
                "properties": {"Name": {"title": [{"text": {"content": "x"}}]}},
            },
            headers=headers,
        ),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert response.json()["message"] == (
            "Databases with multiple data sources are not supported in this API version."
        )
    assert len(notion.pages) == pages_before
    newer = await http.get(f"/sandbox/notion/v1/data_sources/{notion.roadmap_source_id}", headers=headers)
    assert (newer.status_code, newer.json()["code"]) == (400, "invalid_request_url")
    # Pages of the database still show, with the database as their parent, as before 2025-09-03.
    page = await http.get(f"/sandbox/notion/v1/pages/{notion.roadmap_id(1)}", headers=headers)
    assert page.json()["parent"] == {"type": "database_id", "database_id": notion.database_id}


async def test_notion_search_can_stop_short(http: httpx.AsyncClient, store: SandboxStore) -> None:
    notion = store.world("notion")
    notion.search_limit = 30
    headers = {**bearer(store.mint_token("notion").access_token), **NOTION}
    body: dict[str, Any] = {"filter": {"property": "object", "value": "page"}, "page_size": 20}
    first = (await http.post("/sandbox/notion/v1/search", json=body, headers=headers)).json()
    assert first["has_more"] is True
    assert "request_status" not in first
    body["start_cursor"] = first["next_cursor"]
    last = (await http.post("/sandbox/notion/v1/search", json=body, headers=headers)).json()
    assert (len(last["results"]), last["has_more"]) == (10, False)
    assert last["request_status"] == {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}


async def test_notion_search_lags_edits(http: httpx.AsyncClient, store: SandboxStore) -> None:
    notion = store.world("notion")
    headers = {**bearer(store.mint_token("notion").access_token), **NOTION}
    notes = next(pid for pid, page in notion.pages.items() if page["title"] == "Meeting Notes")
    body = {"query": "meeting notes", "filter": {"property": "object", "value": "page"}}

    async def found() -> list[str]:
        response = await http.post("/sandbox/notion/v1/search", json=body, headers=headers)
        return [result["id"] for result in response.json()["results"]]

    assert await found() == [notes]
    notion.search_index_delay = 60
    notion.edit_page(notes, title="Meeting Notes 2")
    assert await found() == []
    notion.edit_page(notes, edited=time.time() - 120)
    assert await found() == [notes]


async def test_notion_blocks_nest(http: httpx.AsyncClient, store: SandboxStore) -> None:
    notion = store.world("notion")
    headers = {**bearer(store.mint_token("notion").access_token), **NOTION}
    handbook = next(pid for pid, page in notion.pages.items() if page["title"] == "Engineering Handbook")
    child = await http.post(
        "/sandbox/notion/v1/pages",
        json={"parent": {"page_id": handbook}, "properties": {"title": {"title": [{"text": {"content": "FAQ"}}]}}},
        headers=headers,
    )

    async def children(block_id: str) -> list[dict[str, Any]]:
        response = await http.get(f"/sandbox/notion/v1/blocks/{block_id}/children", headers=headers)
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    top = await children(handbook)
    assert [(block["type"], block["has_children"]) for block in top] == [
        ("heading_2", False),
        ("paragraph", False),
        ("bulleted_list_item", True),
        ("toggle", True),
        ("child_page", False),
    ]
    assert (top[4]["id"], top[4]["child_page"]) == (child.json()["id"], {"title": "FAQ"})
    (nested,) = await children(top[2]["id"])
    assert nested["parent"] == {"type": "block_id", "block_id": top[2]["id"]}
    assert nested["has_children"] is True
    (deepest,) = await children(nested["id"])
    assert deepest["paragraph"]["rich_text"][0]["plain_text"] == "Mention the on-call engineer when it is urgent."
    assert [block["type"] for block in await children(top[3]["id"])] == ["numbered_list_item"] * 2


async def test_slack_and_figma_parameter_errors(http: httpx.AsyncClient, store: SandboxStore) -> None:
    slack = store.mint_token("slack")
    bot = bearer(slack.access_token)
    assert (await http.get("/sandbox/slack/api/conversations.list", params={"limit": 5000}, headers=bot)).json() == {
        "ok": False,
        "error": "invalid_limit",
    }
    no_text = await http.post("/sandbox/slack/api/chat.postMessage", data={"channel": "C0000000001"}, headers=bot)
    assert no_text.json()["error"] == "no_text"
    bot_search = await http.get("/sandbox/slack/api/search.messages", params={"query": "x"}, headers=bot)
    assert bot_search.json()["error"] == "not_allowed_token_type"
    no_scope = bearer(store.mint_token("slack", scopes=["channels:read"]).access_token)
    missing = await http.post(
        "/sandbox/slack/api/chat.postMessage", json={"channel": "C1", "text": "x"}, headers=no_scope
    )
    assert missing.json() == {
        "ok": False,
        "error": "missing_scope",
        "needed": "chat:write",
        "provided": "channels:read",
    }

    figma = bearer(store.mint_token("figma").access_token)
    key = next(iter(store.world("figma").files))
    for params, message in (
        ({"ids": "1:1", "scale": 9}, "scale"),
        ({"ids": "1:1", "format": "gif"}, "format"),
        ({}, "ids"),
    ):
        response = await http.get(f"/sandbox/figma/v1/images/{key}", params=params, headers=figma)
        assert response.status_code == 400
        assert message in response.json()["err"]
    assert (await http.get("/sandbox/figma/v1/files/nope", headers=figma)).json() == {
        "status": 404,
        "err": "Not found",
    }


async def test_control_endpoint(http: httpx.AsyncClient, store: SandboxStore) -> None:
    updated = await http.post(
        "/sandbox/_control",
        json={"rateLimitEvery": 3, "retryAfterSeconds": 0, "providers": ["slack"], "volume": 50},
    )
    assert updated.status_code == 200
    assert updated.json()["faults"]["rateLimitEvery"] == 3
    assert store.faults.providers == ["slack"]
    assert store.faults.volume == 50
    headers = bearer(store.mint_token("slack").access_token)
    statuses = [(await http.get("/sandbox/slack/api/auth.test", headers=headers)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    state = (await http.get("/sandbox/_control")).json()
    assert state["counters"]["slack GET /api/auth.test"] == 3
    assert (await http.post("/sandbox/_control", json={"latencyMs": -1})).status_code == 422
    assert (await http.post("/sandbox/_control", json={"colour": "red"})).status_code == 422
    assert (await http.post("/sandbox/_control", json={"providers": ["myspace"]})).status_code == 422
    assert (await http.post("/sandbox/_control", content=b"{nope")).status_code == 400
    assert store.faults.rate_limit_every == 3
    reset = (await http.post("/sandbox/_control/reset")).json()
    assert reset["faults"]["rateLimitEvery"] == 0
    assert reset["counters"] == {}
    assert reset["tokens"]["access"] == 0


async def test_rate_limit_headers_on_success(http: httpx.AsyncClient, store: SandboxStore) -> None:
    github = await http.get("/sandbox/github/user", headers=bearer(store.mint_token("github").access_token))
    assert github.headers["x-ratelimit-limit"] == "5000"
    assert int(github.headers["x-ratelimit-reset"]) > time.time()
    linear = await http.post(
        "/sandbox/linear/graphql",
        json={"query": "{ viewer { id } }"},
        headers=bearer(store.mint_token("linear").access_token),
    )
    assert int(linear.headers["x-ratelimit-requests-reset"]) > time.time() * 1000


async def test_latency_knob_applies_to_apis_not_consent_pages(http: httpx.AsyncClient, store: SandboxStore) -> None:
    store.faults.error_every = 1
    page = await http.get(
        "/sandbox/figma/oauth",
        params={
            "client_id": "sandbox-figma",
            "redirect_uri": next(iter(store.redirect_uris)),
            "response_type": "code",
        },
    )
    assert page.status_code == 200
    api = await http.get("/sandbox/figma/v1/me", headers=bearer(store.mint_token("figma").access_token))
    assert api.status_code == 500
