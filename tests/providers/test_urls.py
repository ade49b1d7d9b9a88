"""Tool arguments cannot steer provider requests: every value is one encoded path segment, each tool's schema
refuses what its provider does not allow, and the client refuses any URL outside the provider's API base."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from platform_server.integrations.providers.client import (
    OutsideProviderApi,
    ProviderBadRequest,
    ProviderClient,
    ProviderError,
    ProviderHttp,
    StaticTokenSource,
    provider_path,
)
from platform_server.integrations.providers.github.api import API as GITHUB_API
from platform_server.integrations.providers.github.api import github_pages
from platform_server.integrations.providers.toolspec import ToolSpec
from platform_server.integrations.providers.transport import WireRequest, WireResponse
from platform_server.integrations.registry import PROVIDER_NAMES
from platform_server.sandbox.store import SandboxStore
from platform_server.sandbox.worlds import FigmaWorld, NotionWorld
from tests.providers.test_tools import ALL_TOOLS, client_for

# What the exploits and their usual variants put into an identifier.
STEERING_VALUES = (
    "..",
    ".",
    "../x",
    "a/b",
    "#",
    "?",
    "%2e%2e",
    "%2E%2E/x",
    "x/../../y",
    "..\\x",
    "../../user/keys#",
    "../../../../api/me#",
)

# The arguments each tool places into a request path; the rest go into query strings, bodies or GraphQL
# variables, where they cannot change the path.
PATH_ARGUMENTS = {
    "github_list_repos": ("org",),
    "github_list_issues": ("repo",),
    "github_create_issue": ("repo",),
    "github_list_pull_requests": ("repo",),
    "jira_transition_issue": ("issueKey",),
    "notion_get_page": ("pageId",),
    "notion_create_page": ("parentDatabaseId", "parentDataSourceId"),
    "figma_list_files": ("teamId", "projectId"),
    "figma_get_file": ("fileKey",),
    "figma_export_images": ("fileKey",),
}


def valid_arguments(store: SandboxStore) -> dict[str, list[dict[str, Any]]]:
    """Calls that succeed against the sandbox, one per way a tool builds its requests."""
    notion: NotionWorld = store.world("notion")
    figma: FigmaWorld = store.world("figma")
    page = notion.roadmap_id(1)
    file_key = next(iter(figma.files))
    return {
        "github_list_repos": [{}, {"org": "acme", "visibility": "all", "sort": "updated"}],
        "github_list_issues": [
            {"repo": "acme/product", "state": "all", "assignee": "*", "since": "2024-01-01T00:00:00Z"}
        ],
        "github_create_issue": [{"repo": "acme/product", "title": "t", "body": "b", "labels": ["bug"]}],
        "github_list_pull_requests": [{"repo": "acme/product", "state": "all", "base": "main"}],
        "jira_list_projects": [{"query": "P"}],
        "jira_list_issues": [{"projectKey": "PROJ", "status": "Done", "jql": "labels = x"}],
        "jira_create_issue": [
            {"projectKey": "PROJ", "summary": "s", "issueType": "Task", "description": "d", "priority": "High"}
        ],
        "jira_transition_issue": [{"issueKey": "PROJ-1", "transition": "In Progress"}],
        "linear_list_issues": [{"teamKey": "ENG", "stateType": "started"}],
        "linear_create_issue": [{"teamKey": "ENG", "title": "t", "description": "d", "stateName": "Todo"}],
        "linear_list_projects": [{"teamKey": "ENG"}],
        "linear_list_cycles": [{"teamKey": "ENG"}],
        "notion_list_pages": [{"pageSize": 2}],
        "notion_get_page": [{"pageId": page}],
        "notion_create_page": [
            {"parentDataSourceId": notion.roadmap_source_id, "title": "t", "content": "c"},
            # The seeded database has two data sources: this call stops at reading it, naming them.
            {"parentDatabaseId": notion.database_id, "title": "t"},
        ],
        "notion_search": [{"query": "Roadmap", "filter": "page"}],
        "slack_list_channels": [{"limit": 2}],
        "slack_send_message": [{"channel": "#general", "text": "t"}],
        "slack_search_messages": [{"query": "deploy", "sort": "score"}],
        "figma_list_files": [{"teamId": figma.team_id}, {"projectId": figma.projects[0]["id"]}],
        "figma_get_file": [{"fileKey": file_key, "nodeIds": ["1:1"]}],
        "figma_export_images": [{"fileKey": file_key, "nodeIds": ["1:1"], "format": "png"}],
    }


def steering_values(argument: str) -> list[str]:
    """`repo` is owner/name, so a slash alone is no attack there; each value also goes after a valid owner."""
    if argument != "repo":
        return list(STEERING_VALUES)
    return [value for value in STEERING_VALUES if value != "a/b"] + [f"acme/{value}" for value in STEERING_VALUES]


def string_arguments(tool: ToolSpec) -> list[str]:
    """Every argument a caller fills with text: strings, and lists of strings."""
    names = []
    for name, schema in tool.input_schema["properties"].items():
        kind = schema.get("type")
        if kind == "string" or (kind == "array" and schema.get("items", {}).get("type") == "string"):
            names.append(name)
    return names


def with_value(tool: ToolSpec, arguments: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    wrapped = [value] if tool.input_schema["properties"][name].get("type") == "array" else value
    return {**arguments, name: wrapped}


@pytest.fixture
def sent(provider_http: ProviderHttp, monkeypatch: pytest.MonkeyPatch) -> list[httpx.URL]:
    """Every URL a provider client sends, wherever it goes (the sandbox counts only what reaches it): recorded
    where every provider request passes, its provider's wire, which then sends it as usual."""
    urls: list[httpx.URL] = []
    for provider in PROVIDER_NAMES:
        wire = provider_http.wire(provider)

        async def send(request: WireRequest, wire_send: Any = wire.send) -> WireResponse:
            urls.append(httpx.URL(request.url))
            response: WireResponse = await wire_send(request)
            return response

        monkeypatch.setattr(wire, "send", send)
    return urls


async def routes_of(
    store: SandboxStore, sent: list[httpx.URL], tool: ToolSpec, client: ProviderClient, arguments: dict[str, Any]
) -> set[str]:
    """The sandbox routes one call reached; asserts that nothing it sent left the provider's sandbox."""
    store.counters.clear()
    sent.clear()
    with contextlib.suppress(ProviderError):
        await tool.execute(client, arguments)
    prefix = f"/sandbox/{tool.provider}/"
    assert all((url.host, url.path[: len(prefix)]) == ("testserver", prefix) for url in sent), sent
    return set(store.counters)


def test_every_tool_with_a_path_argument_is_in_the_table() -> None:
    assert set(PATH_ARGUMENTS) <= set(ALL_TOOLS)
    for name, arguments in PATH_ARGUMENTS.items():
        assert set(arguments) <= set(string_arguments(ALL_TOOLS[name])), name


@pytest.mark.parametrize("name", list(PATH_ARGUMENTS))
def test_schemas_refuse_steering_values_in_path_arguments(store: SandboxStore, name: str) -> None:
    tool = ALL_TOOLS[name]
    for arguments in valid_arguments(store)[name]:
        for argument in PATH_ARGUMENTS[name]:
            for value in steering_values(argument):
                assert tool.validation_errors({**arguments, argument: value}), (name, argument, value)


@pytest.mark.parametrize("name", list(ALL_TOOLS))
async def test_no_string_argument_steers_a_request(
    store: SandboxStore, provider_http: ProviderHttp, sent: list[httpx.URL], name: str
) -> None:
    """Even past the schema (the gateway checks it; this calls the tool directly), a value reaches the sandbox
    only through the routes a valid call uses, or the call is refused before anything is sent."""
    tool = ALL_TOOLS[name]
    client = client_for(store, provider_http, tool.provider)
    baselines = valid_arguments(store)[name]
    routes: set[str] = set()
    for arguments in baselines:
        assert tool.validation_errors(arguments) == [], arguments
        routes |= await routes_of(store, sent, tool, client, arguments)
    assert routes
    for arguments in baselines:
        for argument in string_arguments(tool):
            for value in steering_values(argument):
                steered = with_value(tool, arguments, argument, value)
                reached = await routes_of(store, sent, tool, client, steered)
                assert reached <= routes, (argument, value, reached - routes)


def test_provider_path_encodes_each_value_as_one_segment() -> None:
    assert provider_path("github", "repos", "acme", "product", "issues") == "/repos/acme/product/issues"
    assert provider_path("github", "orgs", "a/b?c#d%2e e", "repos") == "/orgs/a%2Fb%3Fc%23d%252e%20e/repos"
    assert provider_path("figma", "v1", "projects", 42, "files") == "/v1/projects/42/files"
    assert provider_path("github", "orgs", "...", "repos") == "/orgs/.../repos"
    for value in ("", ".", ".."):
        with pytest.raises(ProviderBadRequest, match="cannot be part of a GitHub API path"):
            provider_path("github", "orgs", value, "repos")


@pytest.mark.parametrize(
    "url",
    [
        "http://testserver/api/me",
        "https://evil.example/user",
        "https://testserver/sandbox/github/user",
        "http://testserver:8080/sandbox/github/user",
        "http://someone@testserver/sandbox/github/user",
        "http://testserver/sandbox/github-evil/user",
        "http://testserver/sandbox/jira/me",
        "/../../api/me",
        "/orgs/../../../../api/me#/repos",
        "/orgs/../../user/keys#/repos",
        "/user/../user/keys",
        "/user#",
        "/orgs/%2e%2e/%2E%2E/api/me",
        "/repos/acme/..%2F..%2Fx/issues",
        "/repos/acme/product%2Fissues",
        "/repos/acme\\..\\..\\x",
    ],
)
async def test_the_client_refuses_urls_outside_the_api_base(
    store: SandboxStore, provider_http: ProviderHttp, sent: list[httpx.URL], url: str
) -> None:
    client = client_for(store, provider_http, "github")
    with pytest.raises(OutsideProviderApi, match="not under the GitHub API"):
        await client.get(url)
    assert sent == []
    assert not store.counters


async def test_the_client_sends_what_is_under_the_base(
    store: SandboxStore, provider_http: ProviderHttp, sent: list[httpx.URL]
) -> None:
    client = client_for(store, provider_http, "github")
    assert (await client.get("/user")).status_code == 200
    assert (await client.get("http://testserver/sandbox/github/user")).status_code == 200
    assert (await client.get("/orgs/acme/repos", params={"q": "../../x#"})).status_code == 200
    assert [url.path for url in sent] == ["/sandbox/github/user"] * 2 + ["/sandbox/github/orgs/acme/repos"]


class FakeProvider:
    """A provider at its real address (nothing here reaches the network), answering each path as told."""

    def __init__(self, answers: dict[str, httpx.Response]) -> None:
        self.answers = answers
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        return self.answers.get(request.url.path, httpx.Response(404))


@pytest.fixture
async def fake_github() -> AsyncIterator[tuple[FakeProvider, ProviderClient]]:
    provider = FakeProvider({})
    # Even a pooled client configured to follow redirects does not follow them for a provider call.
    async with httpx.AsyncClient(
        base_url="https://api.github.com", transport=httpx.MockTransport(provider), follow_redirects=True
    ) as http:
        yield provider, ProviderClient(GITHUB_API, http, StaticTokenSource("github", "gho_token"))


async def test_redirects_are_not_followed(fake_github: tuple[FakeProvider, ProviderClient]) -> None:
    provider, client = fake_github
    provider.answers["/user"] = httpx.Response(302, headers={"Location": "https://evil.example/collect"})
    with pytest.raises(ProviderBadRequest, match=r"redirect to https://evil\.example/collect"):
        await client.get("/user")
    assert provider.seen == ["https://api.github.com/user"]


async def test_a_next_page_link_outside_the_base_is_refused(fake_github: tuple[FakeProvider, ProviderClient]) -> None:
    provider, client = fake_github
    provider.answers["/user/repos"] = httpx.Response(
        200, json=[{"id": 1}], headers={"Link": '<https://evil.example/user/repos?page=2>; rel="next"'}
    )
    pages = github_pages(client, "/user/repos")
    assert await anext(pages) == [{"id": 1}]
    with pytest.raises(OutsideProviderApi):
        await anext(pages)
    assert provider.seen == ["https://api.github.com/user/repos"]


async def test_in_production_a_dot_segment_cannot_reach_another_path_of_the_provider(
    fake_github: tuple[FakeProvider, ProviderClient],
) -> None:
    """api.github.com has no base path, so `/orgs/../../user/keys` would still be on the provider's host."""
    provider, client = fake_github
    provider.answers["/user/keys"] = httpx.Response(200, json=[{"key": "ssh-ed25519 secret"}])
    with pytest.raises(OutsideProviderApi):
        await client.get("/orgs/../../user/keys#/repos")
    with pytest.raises(OutsideProviderApi):
        await client.get("https://api.github.com/orgs/%2e%2e/user/keys")
    assert provider.seen == []
