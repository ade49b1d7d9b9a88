"""Jira: work items → issues in the workspace's project."""

import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from platform_server.integrations.providers.client import ProviderClient, ProviderError
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

    def __init__(self) -> None:
        # The issue type per project, for the run's client only: a project's types may change between runs.
        self._issue_types: weakref.WeakKeyDictionary[ProviderClient, dict[str, dict[str, str]]] = (
            weakref.WeakKeyDictionary()
        )

    def parse_project(self, project: str) -> str:
        return parse_project_key(project)

    async def _issue_type(self, client: ProviderClient, scope: ImportScope) -> dict[str, str]:
        """Task when the project has it, else its first standard (not epic, not subtask) type."""
        per_project = self._issue_types.setdefault(client, {})
        project = str(scope.project)
        if project not in per_project:
            path = rest_api(client, cloud_id(scope), "issue", "createmeta", project, "issuetypes")
            response = await client.get(path, params={"maxResults": 200})
            kinds = [kind for kind in (response.data or {}).get("issueTypes") or [] if not kind.get("subtask")]
            standard = [kind for kind in kinds if kind.get("hierarchyLevel", 0) == 0]
            chosen = next((kind for kind in standard if kind.get("name") == "Task"), None) or next(
                iter(standard or kinds), None
            )
            if chosen is None:
                raise ProviderError("jira", f"The Jira project {project} has no issue type this user can create")
            per_project[project] = {"id": str(chosen["id"])}
        return per_project[project]

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "project": {"key": scope.project},
            "summary": item.title[:255],
            "issuetype": await self._issue_type(client, scope),
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
