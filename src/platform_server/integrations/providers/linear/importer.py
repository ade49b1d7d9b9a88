"""Linear: issues → work_items through the GraphQL `issues` connection, filtered by team key and updatedAt."""

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.providers.linear.tools import parse_team_key
from platform_server.integrations.sync.base import (
    TRACKER_COLUMNS,
    Importer,
    ImportScope,
    Page,
    clip,
    newest,
    parse_time,
)
from platform_server.work_items.models import Priority, WorkItemStatus

PAGE_SIZE = 100
ISSUES_QUERY = """
query SyncIssues($first: Int!, $after: String, $filter: IssueFilter) {
  issues(first: $first, after: $after, filter: $filter, orderBy: updatedAt, includeArchived: true) {
    nodes {
      id identifier title description url priority createdAt updatedAt archivedAt
      state { type name }
      assignee { name displayName }
      labels { nodes { name } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
_STATUS = {
    "triage": WorkItemStatus.todo,
    "backlog": WorkItemStatus.todo,
    "unstarted": WorkItemStatus.todo,
    "started": WorkItemStatus.in_progress,
    "completed": WorkItemStatus.done,
    "canceled": WorkItemStatus.canceled,
}
# Linear's priority numbers: 0 none, 1 urgent, 2 high, 3 normal, 4 low.
_PRIORITY = {1: Priority.urgent, 2: Priority.high, 3: Priority.medium, 4: Priority.low}


class LinearIssues(Importer):
    provider = "linear"
    source_entity = "issues"
    target_entity = "work_items"
    # Linear orders `updatedAt` newest first, so a resumed run continues from the page cursor it stored.
    ascending = False
    project_hint = "a team key, e.g. ENG"
    parse_project = staticmethod(parse_team_key)
    columns = TRACKER_COLUMNS

    async def pages(
        self, client: ProviderClient, scope: ImportScope, since: datetime | None, resume: str | None
    ) -> AsyncIterator[Page]:
        issue_filter: dict[str, Any] = {"team": {"key": {"eq": scope.project}}}
        if since is not None:
            issue_filter["updatedAt"] = {"gte": since.isoformat().replace("+00:00", "Z")}
        variables: dict[str, Any] = {"first": PAGE_SIZE, "after": resume, "filter": issue_filter}
        while True:
            data = await client.graphql(ISSUES_QUERY, variables)
            connection = (data or {}).get("issues") or {}
            rows = [self.map(node) for node in connection.get("nodes") or []]
            info = connection.get("pageInfo") or {}
            token = info.get("endCursor") if info.get("hasNextPage") else None
            high = None
            for row in rows:
                high = newest(high, row["source_updated_at"])
            yield Page(rows, high, token)
            if not token:
                return
            variables["after"] = token

    def map(self, node: Mapping[str, Any]) -> dict[str, Any]:
        state = node.get("state") or {}
        assignee = node.get("assignee") or {}
        labels = (node.get("labels") or {}).get("nodes") or []
        return {
            "external_id": str(node["id"]),
            "title": clip(node.get("title") or "(untitled)", 500),
            "description": node.get("description") or None,
            "status": _STATUS.get(str(state.get("type")), WorkItemStatus.todo),
            "priority": _PRIORITY.get(node.get("priority") or 0, Priority.none),
            "url": clip(node.get("url"), 2000),
            "key": clip(node.get("identifier"), 255),
            "labels": [str(label.get("name"))[:100] for label in labels if isinstance(label, Mapping)],
            "assignee": clip(assignee.get("displayName") or assignee.get("name"), 255),
            "source_created_at": parse_time(node.get("createdAt")),
            "source_updated_at": parse_time(node.get("updatedAt")),
        }
