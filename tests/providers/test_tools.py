"""Every one of the 22 tools executed against the sandbox, with tokens minted in the sandbox store."""

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from platform_server.integrations.providers.client import (
    ProviderBadRequest,
    ProviderClient,
    ProviderForbidden,
    ProviderHttp,
    ProviderNotFound,
    StaticTokenSource,
)
from platform_server.integrations.providers.figma.tools import TOOLS as FIGMA_TOOLS
from platform_server.integrations.providers.github.tools import TOOLS as GITHUB_TOOLS
from platform_server.integrations.providers.jira.tools import TOOLS as JIRA_TOOLS
from platform_server.integrations.providers.linear.tools import TOOLS as LINEAR_TOOLS
from platform_server.integrations.providers.notion.content import read_content
from platform_server.integrations.providers.notion.tools import TOOLS as NOTION_TOOLS
from platform_server.integrations.providers.slack.tools import TOOLS as SLACK_TOOLS
from platform_server.integrations.providers.toolspec import ToolSpec
from platform_server.sandbox.github import issue_json
from platform_server.sandbox.store import SandboxStore
from platform_server.sandbox.worlds import GITHUB_READER, FigmaWorld, JiraWorld, NotionWorld

ALL_TOOLS: dict[str, ToolSpec] = {
    tool.name: tool
    for tools in (GITHUB_TOOLS, JIRA_TOOLS, LINEAR_TOOLS, NOTION_TOOLS, SLACK_TOOLS, FIGMA_TOOLS)
    for tool in tools
}

SPEC_TABLE = {
    "github": ("list_repos", "list_issues", "create_issue", "list_pull_requests"),
    "jira": ("list_projects", "list_issues", "create_issue", "transition_issue"),
    "linear": ("list_issues", "create_issue", "list_projects", "list_cycles"),
    "notion": ("list_pages", "get_page", "create_page", "search"),
    "slack": ("list_channels", "send_message", "search_messages"),
    "figma": ("list_files", "get_file", "export_images"),
}


def client_for(store: SandboxStore, provider_http: ProviderHttp, provider: str, **mint: Any) -> ProviderClient:
    tokens = store.mint_token(provider, **mint)
    context: dict[str, Any] = {}
    if provider == "jira":
        jira: JiraWorld = store.world("jira")
        context = {"cloudId": jira.cloud_id, "siteUrl": jira.site_url}
    return provider_http.client(
        provider, StaticTokenSource(provider, tokens.access_token, tokens.user_access_token), context=context
    )


async def run(
    store: SandboxStore, provider_http: ProviderHttp, name: str, arguments: dict[str, Any], **mint: Any
) -> dict[str, Any]:
    tool = ALL_TOOLS[name]
    assert tool.validation_errors(arguments) == []
    result = await tool.execute(client_for(store, provider_http, tool.provider, **mint), arguments)
    errors = sorted(Draft202012Validator(dict(tool.output_schema)).iter_errors(result), key=str)
    assert not errors, errors
    return result


def test_the_spec_table_is_complete() -> None:
    expected = {f"{provider}_{tool}" for provider, tools in SPEC_TABLE.items() for tool in tools}
    assert set(ALL_TOOLS) == expected
    assert len(ALL_TOOLS) == 22


@pytest.mark.parametrize("tool", list(ALL_TOOLS.values()), ids=list(ALL_TOOLS))
def test_tool_declares_schemas_and_hints(tool: ToolSpec) -> None:
    Draft202012Validator.check_schema(dict(tool.input_schema))
    Draft202012Validator.check_schema(dict(tool.output_schema))
    assert tool.input_schema["type"] == "object"
    assert tool.input_schema["additionalProperties"] is False
    assert len(tool.description) > 40
    listing = tool.name.split("_", 1)[1].startswith(("list", "get", "search", "export"))
    assert tool.read_only is listing
    # Creating and sending add something new; only a change to what exists (a transition) is destructive.
    additive = tool.name.split("_", 1)[1].startswith(("create", "send"))
    assert tool.destructive is not (listing or additive)
    assert tool.annotations["readOnlyHint"] is tool.read_only
    if tool.default_project_argument:
        assert tool.default_project_argument in tool.input_schema["properties"]
    assert tool.validation_errors({"unexpected": 1})


async def test_github_tools(store: SandboxStore, provider_http: ProviderHttp) -> None:
    repos = await run(store, provider_http, "github_list_repos", {})
    assert "acme/product" in [repo["fullName"] for repo in repos["repos"]]

    issues = await run(
        store, provider_http, "github_list_issues", {"repo": "acme/product", "state": "all", "perPage": 20}
    )
    assert issues["issues"]
    assert issues["nextPage"] == 2
    # Pull requests come back from the issues endpoint too; the tool drops them.
    assert all(issue["number"] % 5 for issue in issues["issues"])

    created = await run(
        store,
        provider_http,
        "github_create_issue",
        {"repo": "acme/product", "title": "From a tool", "labels": ["bug"]},
    )
    assert created["state"] == "open"
    newest = await run(
        store, provider_http, "github_list_issues", {"repo": "acme/product", "sort": "created", "perPage": 1}
    )
    assert newest["issues"][0]["number"] == created["number"]
    assert newest["issues"][0]["labels"] == ["bug"]
    assert (created["droppedLabels"], created["warning"]) == ([], None)


async def test_github_create_issue_reports_labels_dropped_for_a_user_without_push_access(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    repo = store.world("github").repos["acme/product"]
    assert not repo.can_push(GITHUB_READER)
    client = client_for(store, provider_http, "github", login=GITHUB_READER)
    arguments = {"repo": "acme/product", "title": "From a reader", "labels": ["bug"], "assignees": ["alice"]}
    created = await ALL_TOOLS["github_create_issue"].execute(client, arguments)
    assert (created["droppedLabels"], created["droppedAssignees"]) == (["bug"], ["alice"])
    assert "no push access" in created["warning"]
    stored = issue_json(store.world("github"), repo, created["number"])
    assert (stored["labels"], stored["assignees"]) == ([], [])

    pulls = await run(store, provider_http, "github_list_pull_requests", {"repo": "acme/product", "state": "all"})
    assert pulls["pullRequests"]
    assert all(pull["number"] % 5 == 0 for pull in pulls["pullRequests"])


async def test_figma_team_listing_without_projects_read_says_it_needs_a_private_app(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    figma: FigmaWorld = store.world("figma")
    client = client_for(store, provider_http, "figma")
    # A 403 about a scope is a permission error, not a bad token: no refresh, no expired integration.
    with pytest.raises(ProviderForbidden, match=r"private \(organisation\) OAuth apps\. Pass `projectId`"):
        await ALL_TOOLS["figma_list_files"].execute(client, {"teamId": figma.team_id})
    files = await run(store, provider_http, "figma_list_files", {"projectId": figma.projects[0]["id"]})
    assert files["files"]


async def test_github_tool_errors_are_actionable(store: SandboxStore, provider_http: ProviderHttp) -> None:
    client = client_for(store, provider_http, "github")
    with pytest.raises(ProviderNotFound, match="acme/missing"):
        await ALL_TOOLS["github_list_issues"].execute(client, {"repo": "acme/missing"})
    with pytest.raises(ProviderBadRequest, match="owner/name"):
        await ALL_TOOLS["github_list_issues"].execute(client, {"repo": "nonsense"})


async def test_jira_tools(store: SandboxStore, provider_http: ProviderHttp) -> None:
    projects = await run(store, provider_http, "jira_list_projects", {"maxResults": 2})
    assert [project["key"] for project in projects["projects"]] == ["APP", "DATA"]
    assert projects["nextStartAt"] == 2

    first = await run(store, provider_http, "jira_list_issues", {"projectKey": "PROJ", "maxResults": 10})
    assert len(first["issues"]) == 10
    assert first["nextPageToken"]
    assert all(issue["key"].startswith("PROJ-") for issue in first["issues"])
    assert first["issues"][0]["description"]
    assert first["issues"][0]["url"].startswith("https://acme.atlassian.net/browse/PROJ-")
    second = await run(
        store,
        provider_http,
        "jira_list_issues",
        {"projectKey": "PROJ", "maxResults": 10, "nextPageToken": first["nextPageToken"]},
    )
    assert not {issue["key"] for issue in first["issues"]} & {issue["key"] for issue in second["issues"]}
    # The last page ends paging by carrying no token (Jira's `isLast` is optional and the sandbox leaves it out).
    design = await run(store, provider_http, "jira_list_issues", {"projectKey": "DES", "maxResults": 4})
    rest = await run(
        store,
        provider_http,
        "jira_list_issues",
        {"projectKey": "DES", "maxResults": 4, "nextPageToken": design["nextPageToken"]},
    )
    assert (len(design["issues"]) + len(rest["issues"]), rest["nextPageToken"]) == (6, None)
    done = await run(store, provider_http, "jira_list_issues", {"projectKey": "PROJ", "status": "Done"})
    assert done["issues"]
    assert {issue["status"] for issue in done["issues"]} == {"Done"}

    created = await run(
        store,
        provider_http,
        "jira_create_issue",
        {"projectKey": "PROJ", "summary": "Tool-made", "description": "One.\n\nTwo.", "issueType": "Bug"},
    )
    assert created["key"] == f"PROJ-{store.world('jira').projects['PROJ'].seq.last}"

    moved = await run(store, provider_http, "jira_transition_issue", {"issueKey": created["key"], "transition": "done"})
    assert moved["status"] == "Done"
    with pytest.raises(ProviderBadRequest, match="available transitions: To Do"):
        await ALL_TOOLS["jira_transition_issue"].execute(
            client_for(store, provider_http, "jira"), {"issueKey": created["key"], "transition": "Archived"}
        )


async def test_jira_without_site_asks_for_reconnect(store: SandboxStore, provider_http: ProviderHttp) -> None:
    client = provider_http.client("jira", StaticTokenSource("jira", store.mint_token("jira").access_token))
    with pytest.raises(ProviderBadRequest, match="reconnect Jira"):
        await ALL_TOOLS["jira_list_projects"].execute(client, {})


async def test_linear_tools(store: SandboxStore, provider_http: ProviderHttp) -> None:
    page = await run(store, provider_http, "linear_list_issues", {"teamKey": "ENG", "first": 5})
    assert len(page["issues"]) == 5
    assert page["nextCursor"]
    following = await run(
        store,
        provider_http,
        "linear_list_issues",
        {"teamKey": "ENG", "first": 5, "after": page["nextCursor"]},
    )
    assert not {i["id"] for i in page["issues"]} & {i["id"] for i in following["issues"]}
    started = await run(store, provider_http, "linear_list_issues", {"teamKey": "ENG", "stateType": "started"})
    assert started["issues"]
    assert {issue["stateType"] for issue in started["issues"]} == {"started"}

    created = await run(
        store,
        provider_http,
        "linear_create_issue",
        {"teamKey": "ENG", "title": "Made by a tool", "priority": 2, "stateName": "In Progress"},
    )
    assert created["success"]
    assert created["identifier"].startswith("ENG-")
    assert created["state"] == "In Progress"
    with pytest.raises(ProviderNotFound, match="no team"):
        await ALL_TOOLS["linear_create_issue"].execute(
            client_for(store, provider_http, "linear"), {"teamKey": "NOPE", "title": "x"}
        )

    projects = await run(store, provider_http, "linear_list_projects", {"teamKey": "DES"})
    assert projects["projects"]
    assert all("DES" in project["teams"] for project in projects["projects"])
    # Project statuses (not the deprecated `state`): a workspace's own name and a fixed type.
    started = await run(store, provider_http, "linear_list_projects", {"statusType": "started"})
    assert {(project["status"], project["statusType"]) for project in started["projects"]} == {
        ("In Progress", "started")
    }
    assert len(started["projects"]) == 2
    cycles = await run(store, provider_http, "linear_list_cycles", {"teamKey": "ENG"})
    assert sum(cycle["isActive"] for cycle in cycles["cycles"]) == 1
    active = await run(store, provider_http, "linear_list_cycles", {"teamKey": "ENG", "activeOnly": True})
    assert len(active["cycles"]) == 1


async def test_notion_tools(store: SandboxStore, provider_http: ProviderHttp) -> None:
    pages = await run(store, provider_http, "notion_list_pages", {"pageSize": 10})
    assert len(pages["pages"]) == 10
    assert pages["nextCursor"]
    page = await run(store, provider_http, "notion_get_page", {"pageId": pages["pages"][0]["id"].replace("-", "")})
    assert page["title"] == pages["pages"][0]["title"]
    assert page["content"]

    notion: NotionWorld = store.world("notion")
    in_db = await run(
        store,
        provider_http,
        "notion_create_page",
        {
            "parentDataSourceId": notion.roadmap_source_id,
            "title": "Roadmap item from a tool",
            "content": "First.\n\nSecond.",
        },
    )
    created = await run(store, provider_http, "notion_get_page", {"pageId": in_db["id"]})
    assert created["properties"]["Name"] == "Roadmap item from a tool"
    assert created["parentType"] == "data_source_id"
    assert created["databaseId"] == notion.database_id
    assert created["content"] == "First.\nSecond."
    # The ideas table names its title property "Idea": the tool reads the data source's schema.
    idea = await run(
        store, provider_http, "notion_create_page", {"parentDataSourceId": notion.ideas_source_id, "title": "Dark mode"}
    )
    assert (await run(store, provider_http, "notion_get_page", {"pageId": idea["id"]}))["properties"]["Idea"] == (
        "Dark mode"
    )
    child = await run(
        store, provider_http, "notion_create_page", {"parentPageId": in_db["id"], "title": "A child page"}
    )
    assert child["title"] == "A child page"

    found = await run(store, provider_http, "notion_search", {"query": "from a tool"})
    assert [result["id"] for result in found["results"]] == [in_db["id"]]
    sources = await run(store, provider_http, "notion_search", {"query": "roadmap", "filter": "data_source"})
    assert [(r["object"], r["id"], r["databaseId"]) for r in sources["results"]] == [
        ("data_source", notion.roadmap_source_id, notion.database_id)
    ]


async def test_notion_database_with_two_data_sources_needs_one_chosen(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    notion: NotionWorld = store.world("notion")
    before = len(notion.pages)
    with pytest.raises(ProviderBadRequest) as raised:
        await run(
            store, provider_http, "notion_create_page", {"parentDatabaseId": notion.database_id, "title": "Where?"}
        )
    message = raised.value.message
    assert "2 data sources" in message
    assert f'"Roadmap" ({notion.roadmap_source_id})' in message
    assert f'"Ideas" ({notion.ideas_source_id})' in message
    assert "parentDataSourceId" in message
    assert len(notion.pages) == before


async def test_notion_page_content_includes_nested_blocks(store: SandboxStore, provider_http: ProviderHttp) -> None:
    notion: NotionWorld = store.world("notion")
    handbook = next(pid for pid, page in notion.pages.items() if page["title"] == "Engineering Handbook")
    page = await run(store, provider_http, "notion_get_page", {"pageId": handbook})
    assert page["content"] == (
        "## Engineering Handbook\n"
        "Welcome to Engineering Handbook.\n"
        "- Ask in #general when in doubt.\n"
        "  - Or in your team's channel.\n"
        "    Mention the on-call engineer when it is urgent.\n"
        "Checklist\n"
        "  1. Read this page.\n"
        "  2. Ask your buddy."
    )
    assert page["hasMoreContent"] is False

    client = client_for(store, provider_http, "notion")
    cut = await read_content(client, handbook, max_blocks=3, max_depth=5)
    assert [block["type"] for block in cut.blocks] == ["heading_2", "paragraph", "bulleted_list_item"]
    assert cut.complete is False
    shallow = await read_content(client, handbook, max_blocks=100, max_depth=0)
    assert len(shallow.blocks) == 4
    assert not any("children" in block for block in shallow.blocks)
    assert shallow.complete is False


async def test_slack_tools(store: SandboxStore, provider_http: ProviderHttp) -> None:
    channels = await run(store, provider_http, "slack_list_channels", {"limit": 3})
    assert [channel["name"] for channel in channels["channels"]] == ["general", "random", "engineering"]
    assert channels["nextCursor"]

    sent = await run(store, provider_http, "slack_send_message", {"channel": "#general", "text": "Deploy 42 is out"})
    assert sent["channel"] == "C0000000001"
    assert sent["ts"]
    found = await run(store, provider_http, "slack_search_messages", {"query": "deploy 42 in:#general"})
    assert found["total"] == 1
    assert found["messages"][0]["text"] == "Deploy 42 is out"

    with pytest.raises(ProviderForbidden, match="invite the Slack app"):
        await ALL_TOOLS["slack_send_message"].execute(
            client_for(store, provider_http, "slack"), {"channel": "#random", "text": "hi"}
        )
    with pytest.raises(ProviderNotFound):
        await ALL_TOOLS["slack_send_message"].execute(
            client_for(store, provider_http, "slack"), {"channel": "C999", "text": "hi"}
        )
    without_user_token = client_for(store, provider_http, "slack", user_scopes=[])
    with pytest.raises(ProviderForbidden, match="user token"):
        await ALL_TOOLS["slack_search_messages"].execute(without_user_token, {"query": "deploy"})


async def test_figma_tools(store: SandboxStore, provider_http: ProviderHttp) -> None:
    figma: FigmaWorld = store.world("figma")
    # A private app's grant: a team's projects need projects:read.
    private_app = ["current_user:read", "file_content:read", "file_metadata:read", "projects:read"]
    files = await run(store, provider_http, "figma_list_files", {"teamId": figma.team_id}, scopes=private_app)
    assert len(files["files"]) == len(figma.files)
    one_project = await run(store, provider_http, "figma_list_files", {"projectId": figma.projects[0]["id"]})
    assert {file["projectId"] for file in one_project["files"]} == {figma.projects[0]["id"]}

    key = files["files"][0]["key"]
    structure = await run(store, provider_http, "figma_get_file", {"fileKey": key})
    frame_ids = [frame["id"] for page in structure["pages"] for frame in page["frames"]]
    assert frame_ids

    images = await run(
        store,
        provider_http,
        "figma_export_images",
        {"fileKey": key, "nodeIds": [frame_ids[0], "99:99"], "format": "svg"},
    )
    assert images["failed"] == ["99:99"]
    assert images["images"][0]["url"].endswith(".svg?scale=1")
    with pytest.raises(ProviderNotFound):
        await ALL_TOOLS["figma_get_file"].execute(
            client_for(store, provider_http, "figma"), {"fileKey": "NoSuchFileKey1234"}
        )
