"""One pass over everything that talks to a provider, against the sandbox, over the app's real HTTP paths.

Per provider, in a team of its own: connect through the sandbox's OAuth flow (token exchange and whoami), run
every importer twice (the second run is incremental), create work items and run every exporter, call every
tool (with the arguments that take each branch of its request, and a few that fail), then delete the
integration (revoke).
"""

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from platform_server.integrations.providers.client import ProviderError, ProviderHttp, StaticTokenSource
from platform_server.integrations.sync.pairs import EXPORTERS, IMPORTERS
from platform_server.sandbox.store import SandboxStore
from platform_server.sandbox.worlds import FigmaWorld, NotionWorld
from platform_server.teams.models import Role
from platform_server.teams.service import team_service
from tests.conftest import Member
from tests.jobs.helpers import run_jobs
from tests.providers.test_tools import ALL_TOOLS, client_for
from tests.sync.helpers import PROJECTS, connect_and_enable, sync

Call = tuple[str, dict[str, Any]]


def _tool_calls(store: SandboxStore) -> dict[str, list[Call]]:
    notion: NotionWorld = store.world("notion")
    figma: FigmaWorld = store.world("figma")
    return {
        "github": [
            ("github_list_repos", {}),
            ("github_list_repos", {"org": "acme", "visibility": "all", "sort": "full_name", "perPage": 5}),
            (
                "github_list_issues",
                {
                    "repo": "acme/product",
                    "state": "all",
                    "labels": ["bug"],
                    "since": "2020-01-01T00:00:00Z",
                    "sort": "updated",
                    "direction": "asc",
                    "perPage": 20,
                    "page": 1,
                },
            ),
            ("github_list_issues", {"repo": "acme/missing"}),
            ("github_create_issue", {"repo": "acme/product", "title": "Contract", "body": "Text", "labels": ["bug"]}),
            ("github_list_pull_requests", {"repo": "acme/product", "state": "all", "base": "main", "perPage": 5}),
        ],
        "jira": [
            ("jira_list_projects", {"maxResults": 2}),
            ("jira_list_issues", {"projectKey": "PROJ", "maxResults": 10}),
            ("jira_list_issues", {"projectKey": "PROJ", "status": "Done"}),
            (
                "jira_create_issue",
                {"projectKey": "PROJ", "summary": "Contract", "description": "A.\n\nB.", "issueType": "Bug"},
            ),
            ("jira_transition_issue", {"issueKey": "PROJ-1", "transition": "done"}),
        ],
        "linear": [
            ("linear_list_issues", {"teamKey": "ENG", "first": 5}),
            ("linear_list_issues", {"teamKey": "ENG", "stateType": "started"}),
            ("linear_create_issue", {"teamKey": "ENG", "title": "Contract", "priority": 2, "stateName": "In Progress"}),
            ("linear_list_projects", {"teamKey": "DES"}),
            ("linear_list_cycles", {"teamKey": "ENG", "activeOnly": True}),
        ],
        "notion": [
            ("notion_list_pages", {"pageSize": 10}),
            (
                "notion_create_page",
                {"parentDataSourceId": notion.roadmap_source_id, "title": "Contract", "content": "A.\n\nB."},
            ),
            # A database with two data sources: the tool reads them and asks the caller to choose.
            ("notion_create_page", {"parentDatabaseId": notion.database_id, "title": "Contract"}),
            ("notion_search", {"query": "roadmap", "filter": "data_source"}),
            ("notion_search", {"query": "contract"}),
        ],
        "slack": [
            ("slack_list_channels", {"limit": 3}),
            ("slack_send_message", {"channel": "#general", "text": "Contract"}),
            ("slack_send_message", {"channel": "#random", "text": "Not a member"}),
            ("slack_search_messages", {"query": "contract in:#general"}),
        ],
        "figma": [
            ("figma_list_files", {"teamId": figma.team_id}),
            ("figma_list_files", {"projectId": figma.projects[0]["id"]}),
            ("figma_get_file", {"fileKey": "NoSuchFileKey1234"}),
        ],
    }


@dataclass
class _Tools:
    """Runs tools with tokens minted in the sandbox, and remembers which ran."""

    store: SandboxStore
    provider_http: ProviderHttp
    called: set[str] = field(default_factory=set)

    async def run(self, name: str, arguments: dict[str, Any], scopes: list[str] | None = None) -> Any:
        """The tool's result (None when the provider refused), with a token of the default or the given scopes."""
        tool = ALL_TOOLS[name]
        self.called.add(name)
        try:
            client = client_for(self.store, self.provider_http, tool.provider, scopes=scopes)
            return await tool.execute(client, arguments)
        except ProviderError:
            return None


async def _follow_ups(tools: _Tools, provider: str, first: list[Any]) -> None:
    """Calls that need an earlier answer: the next page, the page or file just listed."""
    if provider == "jira" and first[1] and first[1].get("nextPageToken"):
        arguments = {"projectKey": "PROJ", "maxResults": 10, "nextPageToken": first[1]["nextPageToken"]}
        await tools.run("jira_list_issues", arguments)
    if provider == "linear" and first[0] and first[0].get("nextCursor"):
        arguments = {"teamKey": "ENG", "first": 5, "after": first[0]["nextCursor"]}
        await tools.run("linear_list_issues", arguments)
    if provider == "notion" and first[0] and first[1]:
        await tools.run("notion_get_page", {"pageId": first[0]["pages"][0]["id"]})
        await tools.run("notion_get_page", {"pageId": first[1]["id"]})
        arguments = {"parentPageId": first[1]["id"], "title": "A child", "content": "Text"}
        await tools.run("notion_create_page", arguments)
        await tools.run("notion_list_pages", {"pageSize": 10, "startCursor": first[0]["nextCursor"]})
    if provider == "slack" and first[0]:
        await tools.run("slack_list_channels", {"limit": 3, "cursor": first[0]["nextCursor"]})
    if provider == "figma" and first[1]:
        # Listing a team's projects needs projects:read, which we do not request by default (the first call
        # was refused); a private app's token has it.
        scopes = ["current_user:read", "file_content:read", "projects:read"]
        await tools.run("figma_list_files", {"teamId": tools.store.world("figma").team_id}, scopes)
        key = first[1]["files"][0]["key"]
        structure = await tools.run("figma_get_file", {"fileKey": key, "depth": 2})
        frames = [frame["id"] for page in structure["pages"] for frame in page["frames"]]
        # A token Figma does not know: its answer to that is part of the contract too.
        unknown = tools.provider_http.client("figma", StaticTokenSource("figma", "not-a-figma-token"))
        with contextlib.suppress(ProviderError):
            await ALL_TOOLS["figma_get_file"].execute(unknown, {"fileKey": key})
        for image_format in ("png", "svg"):
            arguments = {"fileKey": key, "nodeIds": [frames[0], "99:99"], "format": image_format, "scale": 2}
            await tools.run("figma_export_images", arguments)


async def _team(app: Any, provider: str) -> Member:
    async with app.state.sessionmaker() as session, session.begin():
        team, user, workspace, _, secret = await team_service.bootstrap(
            session,
            team_name=f"Contracts {provider}",
            email=f"{provider}-{uuid.uuid4().hex[:8]}@example.com",
            workspace_name="Main",
        )
        team.plan = "pro"
    return Member(team.id, user.id, workspace.id, secret, Role.owner)


async def exercise(app: Any, client: httpx.AsyncClient, provider: str) -> set[str]:
    """Runs the pass for one provider; answers the names of the tools it ran."""
    tools = _Tools(app.state.sandbox, app.state.provider_http)
    member = await _team(app, provider)
    project = PROJECTS.get(provider) or (None if provider == "notion" else "")
    integration_id = await connect_and_enable(app, client, member, provider, project)
    for (importer_provider, entity), importer in IMPORTERS.items():
        if importer_provider == provider:
            await sync(client, member, integration_id, entity, importer.target_entity)
            await sync(client, member, integration_id, entity, importer.target_entity)
    for exporter_provider, entity in EXPORTERS:
        if exporter_provider == provider:
            body = {"workspaceId": member.workspace_id, "title": "Exported", "description": "Body"}
            created = await client.post("/api/work-items", json=body, headers=member.headers)
            assert created.status_code == 201, created.text
            await sync(client, member, integration_id, "work_items", entity, sync_type="export")
    first = [await tools.run(name, arguments) for name, arguments in _tool_calls(tools.store)[provider]]
    await _follow_ups(tools, provider, first)
    # Issues created above reach us as the sandbox's webhooks and queue pushed syncs: they run to their end
    # while the grant still exists.
    await app.state.sandbox.webhooks.drain()
    await run_jobs(app)
    deleted = await client.delete(f"/api/integrations/{integration_id}", headers=member.headers)
    assert deleted.status_code == 200, deleted.text
    return tools.called
