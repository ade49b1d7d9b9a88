"""Linear: work items → issues in the workspace's team."""

from typing import Any, ClassVar

from platform_server.integrations.providers.client import ProviderClient, ProviderError, ProviderNotFound
from platform_server.integrations.providers.linear.tools import parse_team_key
from platform_server.integrations.sync.base import ImportScope, clip, parse_time
from platform_server.work_items.models import WorkItem

_TEAM_QUERY = "query SyncTeam($key: String!) { teams(filter: {key: {eq: $key}}) { nodes { id key } } }"
_CREATE_MUTATION = """
mutation SyncCreateIssue($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url createdAt updatedAt } }
}
"""


class LinearIssueExporter:
    provider: ClassVar[str] = "linear"
    target_entity: ClassVar[str] = "issues"

    def __init__(self) -> None:
        # Team keys → ids, per process; a team's id never changes.
        self._team_ids: dict[tuple[str, str], str] = {}

    def parse_project(self, project: str) -> str:
        return parse_team_key(project)

    async def _team_id(self, client: ProviderClient, scope: ImportScope) -> str:
        cache_key = (str(scope.account.get("organizationId") or ""), str(scope.project))
        if cache_key not in self._team_ids:
            data = await client.graphql(_TEAM_QUERY, {"key": scope.project})
            nodes = ((data or {}).get("teams") or {}).get("nodes") or []
            if not nodes:
                raise ProviderNotFound("linear", f"Linear has no team with the key {scope.project}")
            self._team_ids[cache_key] = str(nodes[0]["id"])
        return self._team_ids[cache_key]

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        team_id = await self._team_id(client, scope)
        data = await client.graphql(
            _CREATE_MUTATION,
            {"input": {"teamId": team_id, "title": item.title, "description": item.description or ""}},
            mutation=True,
        )
        payload = (data or {}).get("issueCreate") or {}
        issue = payload.get("issue") or {}
        if not payload.get("success") or not issue.get("id"):
            raise ProviderError("linear", "Linear did not create the issue")
        return {
            "external_id": str(issue["id"]),
            "key": clip(issue.get("identifier"), 255),
            "url": clip(issue.get("url"), 2000),
            "source_created_at": parse_time(issue.get("createdAt")),
            "source_updated_at": parse_time(issue.get("updatedAt")),
        }
