"""Tools through the gateway with the official SDK client over HTTP, against the sandbox: per-workspace lists,
every tool called, refusals, invalid arguments, provider failures, an expired integration, and their audit."""

from typing import Any

import httpx
import mcp_types as mcp
import pytest

from platform_server.gateway.executor import CATALOG, ERROR_META_KEY
from tests.conftest import Member
from tests.gateway.conftest import MODES, Enable, mcp_client, tool_calls

# Arguments that succeed against the sandbox's seeded data, for every tool of the spec's table.
ARGUMENTS: dict[str, dict[str, Any]] = {
    "github_list_repos": {"org": "acme"},
    "github_list_issues": {"repo": "acme/product", "state": "open", "perPage": 5},
    "github_create_issue": {"repo": "acme/product", "title": "Created through the MCP gateway", "labels": ["bug"]},
    "github_list_pull_requests": {"repo": "acme/product", "state": "all", "perPage": 5},
    "jira_list_projects": {},
    "jira_list_issues": {"projectKey": "PROJ", "maxResults": 5},
    "jira_create_issue": {"projectKey": "PROJ", "summary": "Created through the MCP gateway", "issueType": "Task"},
    "jira_transition_issue": {"issueKey": "PROJ-1", "transition": "Done"},
    "linear_list_issues": {"teamKey": "ENG", "first": 5},
    "linear_create_issue": {"teamKey": "ENG", "title": "Created through the MCP gateway", "priority": 2},
    "linear_list_projects": {"teamKey": "ENG"},
    "linear_list_cycles": {"teamKey": "ENG"},
    "notion_list_pages": {"pageSize": 5},
    "notion_get_page": {"pageId": "{notion_page}", "includeContent": True},
    "notion_create_page": {"parentPageId": "{notion_page}", "title": "Created through the MCP gateway"},
    "notion_search": {"query": "Roadmap"},
    "slack_list_channels": {"limit": 20},
    "slack_send_message": {"channel": "general", "text": "Hello from the MCP gateway"},
    "slack_search_messages": {"query": "general"},
    # By project: a team's project list needs projects:read, which Figma grants only to private apps.
    "figma_list_files": {"projectId": "2001"},
    "figma_get_file": {"fileKey": "{figma_file}", "depth": 1},
    "figma_export_images": {"fileKey": "{figma_file}", "nodeIds": ["1:1"], "format": "png"},
}


def arguments_for(name: str, sandbox: Any) -> dict[str, Any]:
    """The tool's arguments with the sandbox's generated ids (Notion pages, Figma files) filled in."""
    ids = {
        "{notion_page}": next(iter(sandbox.world("notion").pages)),
        "{figma_file}": next(iter(sandbox.world("figma").files)),
    }
    return {key: ids.get(value, value) if isinstance(value, str) else value for key, value in ARGUMENTS[name].items()}


def text_of(result: mcp.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, mcp.TextContent)
    return block.text


def error_of(result: mcp.CallToolResult) -> dict[str, Any]:
    """The machine-readable side of an error result; `structuredContent` is reserved for the output schema."""
    assert result.is_error is True
    assert result.structured_content is None
    assert result.meta is not None
    error: dict[str, Any] = result.meta[ERROR_META_KEY]
    return error


@pytest.mark.parametrize("mode", MODES)
async def test_each_workspace_lists_only_its_enabled_tools(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable, mode: str
) -> None:
    second = await client.post("/api/workspaces", json={"name": "Second"}, headers=owner.headers)
    second_id = second.json()["id"]
    await enable(owner, "github", ["github_list_issues", "github_list_repos"], default_project="acme/product")
    await enable(owner, "github", None, workspace_id=second_id)
    await enable(owner, "jira", ["jira_list_projects"], workspace_id=second_id)

    async with mcp_client(app, owner, mode=mode) as session:
        listed = (await session.list_tools()).tools
    assert [tool.name for tool in listed] == ["github_list_issues", "github_list_repos"]
    issues = listed[0]
    # The workspace's defaultProject fills `repo`, so the model may leave it out.
    assert "repo" not in issues.input_schema.get("required", [])
    assert "acme/product" in issues.input_schema["properties"]["repo"]["description"]
    assert issues.output_schema is not None
    assert issues.annotations is not None
    assert issues.annotations.read_only_hint is True
    assert issues.description

    async with mcp_client(app, owner, second_id, mode=mode) as session:
        listed = (await session.list_tools()).tools
    names = [tool.name for tool in listed]
    github = ["github_create_issue", "github_list_issues", "github_list_pull_requests", "github_list_repos"]
    assert names == [*github, "jira_list_projects"]
    create = next(tool for tool in listed if tool.name == "github_create_issue")
    assert create.annotations is not None
    assert create.annotations.read_only_hint is False
    # Creating an issue adds; it never destroys or overwrites anything.
    assert create.annotations.destructive_hint is False
    # No defaultProject here: `repo` stays required.
    assert "repo" in next(tool for tool in listed if tool.name == "github_list_issues").input_schema["required"]


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
async def test_every_tool_runs_against_the_sandbox(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable, name: str
) -> None:
    provider = CATALOG[name].provider
    integration_id = await enable(owner, provider)
    # Half the tools on each protocol generation.
    mode = MODES[sorted(ARGUMENTS).index(name) % 2]
    async with mcp_client(app, owner, mode=mode) as session:
        assert name in [tool.name for tool in (await session.list_tools()).tools]
        # The SDK client validates structuredContent against the listed output schema.
        result = await session.call_tool(name, arguments_for(name, app.state.sandbox))
    assert result.is_error is False, text_of(result)
    assert result.structured_content is not None
    [call] = await tool_calls(client, owner)
    assert call["tool"] == name
    assert call["outcome"] == "success"
    assert call["errorCode"] is None
    assert call["provider"] == provider
    assert call["integrationId"] == integration_id
    assert call["argumentNames"] == sorted(ARGUMENTS[name])
    assert call["channel"] == "mcp"


def test_the_gateway_serves_the_22_tools_of_the_spec() -> None:
    assert len(ARGUMENTS) == 22
    assert sorted(CATALOG) == sorted(ARGUMENTS)


async def test_disabled_tool_is_refused_at_call_time(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_repos"])
    sandbox = app.state.sandbox
    async with mcp_client(app, owner) as session:
        result = await session.call_tool("github_create_issue", ARGUMENTS["github_create_issue"])
    assert result.is_error is True
    assert "not enabled for this workspace" in text_of(result)
    assert error_of(result)["error"] == "TOOL_NOT_ENABLED"
    assert sandbox.count("github", "POST", "/repos/{owner}/{repo}/issues") == 0
    [call] = await tool_calls(client, owner)
    assert (call["outcome"], call["errorCode"]) == ("rejected", "TOOL_NOT_ENABLED")

    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_create_issue",
        json=ARGUMENTS["github_create_issue"],
        headers=owner.headers,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "TOOL_NOT_ENABLED"


async def test_invalid_arguments_are_a_correctable_tool_error(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github")
    before = app.state.sandbox.count("github")
    async with mcp_client(app, owner) as session:
        result = await session.call_tool("github_list_issues", {"repo": "not a repo", "state": "sideways", "x": 1})
    assert result.is_error is True
    message = text_of(result)
    assert "Invalid arguments for github_list_issues" in message
    assert "state" in message
    assert "sideways" in message
    assert app.state.sandbox.count("github") == before
    [call] = await tool_calls(client, owner)
    assert (call["outcome"], call["errorCode"]) == ("rejected", "INVALID_ARGUMENTS")
    assert call["argumentNames"] == ["repo", "state", "x"]

    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_list_issues",
        json={"state": "open"},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_ARGUMENTS"
    assert any("repo" in error for error in response.json()["error"]["details"]["errors"])


async def test_default_project_fills_an_omitted_repo(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", default_project="acme/product")
    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_list_issues", json={"perPage": 3}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tool"] == "github_list_issues"
    assert body["result"]["repo"] == "acme/product"
    assert len(body["result"]["issues"]) <= 3
    [call] = await tool_calls(client, owner)
    assert call["id"] == body["toolCallId"]
    assert (call["channel"], call["outcome"]) == ("rest", "success")
    # The filled argument is the gateway's doing, not the caller's.
    assert call["argumentNames"] == ["perPage", "repo"]


async def test_provider_not_found(app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable) -> None:
    await enable(owner, "github")
    async with mcp_client(app, owner) as session:
        result = await session.call_tool("github_list_issues", {"repo": "acme/does-not-exist"})
    assert result.is_error is True
    assert "GitHub found nothing" in text_of(result)
    assert error_of(result)["error"] == "PROVIDER_NOT_FOUND"
    [call] = await tool_calls(client, owner)
    assert (call["outcome"], call["errorCode"]) == ("error", "PROVIDER_NOT_FOUND")


async def test_provider_permission_denied(app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable) -> None:
    await enable(owner, "slack")
    async with mcp_client(app, owner) as session:
        # The bot is not a member of this private channel.
        result = await session.call_tool("slack_send_message", {"channel": "leadership", "text": "hi"})
    assert result.is_error is True
    assert error_of(result)["error"] == "PROVIDER_FORBIDDEN"
    assert "Slack" in text_of(result)
    [call] = await tool_calls(client, owner)
    assert (call["outcome"], call["errorCode"]) == ("error", "PROVIDER_FORBIDDEN")


async def test_provider_rate_limit_says_how_long_to_wait(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github")
    faults = app.state.sandbox.faults
    faults.rate_limit_every, faults.retry_after_seconds = 1, 120
    async with mcp_client(app, owner, mode="legacy") as session:
        result = await session.call_tool("github_list_issues", ARGUMENTS["github_list_issues"])
    assert result.is_error is True
    assert "Wait 120 seconds" in text_of(result) or "retry in 12" in text_of(result)
    assert error_of(result)["error"] == "PROVIDER_RATE_LIMITED"
    assert 110 <= error_of(result)["retryAfterSeconds"] <= 121

    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_list_issues",
        json=ARGUMENTS["github_list_issues"],
        headers=owner.headers,
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "PROVIDER_RATE_LIMITED"
    assert 110 <= int(response.headers["retry-after"]) <= 121
    calls = await tool_calls(client, owner)
    assert [(call["outcome"], call["errorCode"]) for call in calls] == [("error", "PROVIDER_RATE_LIMITED")] * 2


async def test_provider_server_error_on_a_write(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github")
    app.state.sandbox.faults.error_every = 1
    async with mcp_client(app, owner) as session:
        result = await session.call_tool("github_create_issue", ARGUMENTS["github_create_issue"])
    assert result.is_error is True
    assert "try again later" in text_of(result)
    # A write is never repeated blindly: one attempt reached GitHub.
    assert app.state.sandbox.count("github", "POST", "/repos/{owner}/{repo}/issues") == 1
    [call] = await tool_calls(client, owner)
    assert (call["outcome"], call["errorCode"]) == ("error", "PROVIDER_UNAVAILABLE")


async def test_expired_integration_asks_for_a_reconnect(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github")
    sandbox = app.state.sandbox
    for record in list(sandbox.access_tokens.values()):
        sandbox.revoke_grant(record.grant)
    async with mcp_client(app, owner) as session:
        result = await session.call_tool("github_list_repos", {})
        assert result.is_error is True
        assert "reconnect" in text_of(result).lower()
        assert error_of(result)["error"] == "INTEGRATION_EXPIRED"
        # Once known to be expired, its tools leave the list and calls are refused before reaching GitHub.
        assert (await session.list_tools()).tools == []
        before = sandbox.count("github")
        again = await session.call_tool("github_list_repos", {})
    assert again.is_error is True
    assert "reconnect" in text_of(again)
    assert sandbox.count("github") == before
    calls = await tool_calls(client, owner)
    assert [(call["outcome"], call["errorCode"]) for call in calls] == [
        ("rejected", "INTEGRATION_EXPIRED"),
        ("error", "INTEGRATION_EXPIRED"),
    ]


async def test_member_calls_with_own_identity_and_key_never_reaches_provider(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable, add_member: Any
) -> None:
    await enable(owner, "github")
    member = await add_member(owner)
    async with mcp_client(app, member) as session:
        result = await session.call_tool("github_list_repos", {})
    assert result.is_error is False
    [call] = await tool_calls(client, owner)
    assert call["userId"] == member.user_id
    # Only the team's stored GitHub token is ever presented to GitHub.
    presented = {record.token for record in app.state.sandbox.access_tokens.values()}
    assert member.api_key not in presented
