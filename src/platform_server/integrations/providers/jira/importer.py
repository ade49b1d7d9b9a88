"""Jira Cloud: issues → work_items through enhanced search (`POST /rest/api/3/search/jql`), oldest update first."""

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from platform_server.integrations.providers.client import IntegrationExpired, ProviderClient
from platform_server.integrations.providers.jira.api import jira_search_pages
from platform_server.integrations.providers.jira.tools import parse_project_key, rest_api
from platform_server.integrations.sync.base import (
    TRACKER_COLUMNS,
    Importer,
    ImportScope,
    Page,
    clip,
    newest,
    parse_time,
)
from platform_server.integrations.sync.render import adf_to_text
from platform_server.work_items.models import Priority, WorkItemStatus

PAGE_SIZE = 100
FIELDS = ["summary", "status", "assignee", "created", "updated", "labels", "priority", "description"]
_STATUS = {"new": WorkItemStatus.todo, "indeterminate": WorkItemStatus.in_progress, "done": WorkItemStatus.done}
_PRIORITY = {
    "highest": Priority.urgent,
    "blocker": Priority.urgent,
    "critical": Priority.urgent,
    "high": Priority.high,
    "major": Priority.high,
    "medium": Priority.medium,
    "low": Priority.low,
    "lowest": Priority.low,
    "minor": Priority.low,
    "trivial": Priority.low,
}


def cloud_id(scope: ImportScope) -> str:
    value = scope.account.get("cloudId")
    if not value:
        raise IntegrationExpired("jira", "The Jira integration has no site (cloudId); reconnect Jira")
    return str(value)


def jql_time(moment: datetime, account: Mapping[str, Any]) -> str:
    """JQL dates are minute-granular and read in the user's time zone; without it, UTC (the overlap covers it)."""
    zone: Any = UTC
    name = account.get("timeZone")
    if isinstance(name, str):
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


class JiraIssues(Importer):
    provider = "jira"
    source_entity = "issues"
    target_entity = "work_items"
    overlap = timedelta(minutes=5)
    project_hint = "a project key, e.g. PROJ"
    parse_project = staticmethod(parse_project_key)
    columns = TRACKER_COLUMNS

    async def pages(
        self, client: ProviderClient, scope: ImportScope, since: datetime | None, resume: str | None
    ) -> AsyncIterator[Page]:
        jql = f'project = "{scope.project}"'
        if since is not None:
            jql += f' AND updated >= "{jql_time(since, scope.account)}"'
        body = {"jql": jql + " ORDER BY updated ASC", "fields": FIELDS, "maxResults": PAGE_SIZE}
        site = str(scope.account.get("siteUrl") or "").rstrip("/")
        path = rest_api(client, cloud_id(scope), "search", "jql")
        async for issues in jira_search_pages(client, path, body):
            high = None
            rows = []
            for issue in issues:
                row = self.map(issue, site)
                high = newest(high, row["source_updated_at"])
                rows.append(row)
            yield Page(rows, high)

    def map(self, issue: Mapping[str, Any], site: str) -> dict[str, Any]:
        fields = issue.get("fields") or {}
        status = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        priority = str((fields.get("priority") or {}).get("name") or "").lower()
        assignee = fields.get("assignee") or {}
        key = str(issue.get("key") or "")
        return {
            "external_id": str(issue["id"]),
            "title": clip(fields.get("summary") or key or "(untitled)", 500),
            "description": adf_to_text(fields.get("description")),
            "status": _STATUS.get(str(status), WorkItemStatus.todo),
            "priority": _PRIORITY.get(priority, Priority.none),
            "url": clip(f"{site}/browse/{key}", 2000) if site and key else None,
            "key": clip(key, 255) or None,
            "labels": [str(label)[:100] for label in fields.get("labels") or []],
            "assignee": clip(assignee.get("displayName") or assignee.get("emailAddress"), 255),
            "source_created_at": parse_time(fields.get("created")),
            "source_updated_at": parse_time(fields.get("updated")),
        }
