"""Jira: work items → issues in the workspace's project."""

from collections.abc import Mapping
from typing import Any, ClassVar

from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.providers.jira.importer import cloud_id
from platform_server.integrations.providers.jira.tools import parse_project_key, rest_api
from platform_server.integrations.sync.base import ImportScope
from platform_server.work_items.models import WorkItem


def _adf(text: str | None) -> dict[str, Any]:
    paragraphs = [part for part in (text or "").split("\n\n") if part.strip()]
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": part}]} for part in paragraphs],
    }


class JiraIssueExporter:
    provider: ClassVar[str] = "jira"
    target_entity: ClassVar[str] = "issues"

    def parse_project(self, project: str) -> str:
        return parse_project_key(project)

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "project": {"key": scope.project},
            "summary": item.title[:255],
            "issuetype": {"name": "Task"},
            "description": _adf(item.description),
        }
        if item.labels:
            # Jira labels cannot contain spaces.
            fields["labels"] = [label.replace(" ", "_") for label in item.labels]
        response = await client.post(rest_api(client, cloud_id(scope), "issue"), json={"fields": fields})
        issue: Mapping[str, Any] = response.data or {}
        key = str(issue.get("key") or "")
        site = str(scope.account.get("siteUrl") or "").rstrip("/")
        return {
            "external_id": str(issue["id"]),
            "key": key or None,
            "url": f"{site}/browse/{key}" if site and key else None,
        }
