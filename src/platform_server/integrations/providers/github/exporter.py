"""GitHub: work items → issues in the workspace's repository."""

from collections.abc import Mapping
from typing import Any, ClassVar

from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.providers.github.tools import (
    dropped_on_create,
    dropped_warning,
    parse_repository,
    repo_path,
)
from platform_server.integrations.sync.base import ImportScope, clip, parse_time
from platform_server.work_items.models import WorkItem


class GitHubIssueExporter:
    provider: ClassVar[str] = "github"
    target_entity: ClassVar[str] = "issues"

    def parse_project(self, project: str) -> str:
        return parse_repository(project)

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        body: dict[str, Any] = {"title": item.title, "body": item.description or ""}
        if item.labels:
            body["labels"] = list(item.labels)
        response = await client.post(repo_path(client, str(scope.project), "issues"), json=body)
        issue: Mapping[str, Any] = response.data or {}
        return {
            "warning": dropped_warning(f"{scope.project}#{issue.get('number')}", dropped_on_create(body, issue)),
            "external_id": str(issue["id"]),
            "key": f"{scope.project}#{issue.get('number')}",
            "url": clip(issue.get("html_url"), 2000),
            "source_created_at": parse_time(issue.get("created_at")),
            "source_updated_at": parse_time(issue.get("updated_at")),
        }
