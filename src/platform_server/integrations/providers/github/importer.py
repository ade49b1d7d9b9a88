"""GitHub: issues → work_items and pull requests → work_items, both from the repository's issues list.

The issues endpoint is the one with an updated-since filter (`since`) and returns pull requests too (an item
with a `pull_request` key), so one ascending, incremental listing serves both entities; each keeps its own.
"""

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from platform_server.integrations.providers.client import ProviderClient, ProviderResponse
from platform_server.integrations.providers.github.tools import parse_repository, repo_path
from platform_server.integrations.sync.base import (
    TRACKER_COLUMNS,
    Importer,
    ImportScope,
    Page,
    clip,
    newest,
    parse_time,
)
from platform_server.work_items.models import WorkItemStatus

PAGE_SIZE = 100


def _label(label: Any) -> str:
    return str(label.get("name") if isinstance(label, Mapping) else label)[:100]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _remaining_pages(response: ProviderResponse) -> int | None:
    """Pages after this one in the current listing, from the `Link` header's next and last page numbers."""
    if response.next_link() is None:
        return 0
    numbers = []
    for rel in ("next", "last"):
        values = parse_qs(urlsplit(response.links.get(rel, {}).get("url", "")).query).get("page", [])
        if not values or not values[0].isdigit():
            return None
        numbers.append(int(values[0]))
    return max(0, numbers[1] - numbers[0] + 1)


class _GitHubIssuesList(Importer):
    provider = "github"
    target_entity = "work_items"
    project_hint = "owner/repo"
    parse_project = staticmethod(parse_repository)
    columns = tuple(column for column in TRACKER_COLUMNS if column != "priority")
    wants_pull_requests: ClassVar[bool]

    async def pages(
        self, client: ProviderClient, scope: ImportScope, since: datetime | None, resume: str | None
    ) -> AsyncIterator[Page]:
        """Keyset pages: each request asks for issues updated since the newest one seen so far.

        Following the `Link` header alone would page by offset, and an issue updated during the run moves
        to the end of the listing, shifting an unseen one back onto a page already read. Asking again from
        the newest update seen cannot skip anything; the overlap (issues sharing that second) is re-read and
        costs nothing. When a whole page shares one timestamp, the `Link` header steps past it.
        """
        path = repo_path(client, str(scope.project), "issues")
        params: dict[str, Any] = {"state": "all", "sort": "updated", "direction": "asc", "per_page": PAGE_SIZE}
        next_url: str | None = None
        while True:
            if next_url is not None:
                response = await client.get(next_url)
            else:
                response = await client.get(path, params={**params, "since": _iso(since) if since else None})
            high = None
            rows = []
            for item in response.data or []:
                high = newest(high, parse_time(item.get("updated_at")))
                if ("pull_request" in item) == self.wants_pull_requests:
                    rows.append(self.map(item, str(scope.project)))
            yield Page(rows, high, remaining=_remaining_pages(response))
            link = response.next_link()
            if link is None:
                return
            if high is not None and (since is None or high > since):
                since, next_url = high, None
            else:
                next_url = link

    def map(self, item: Mapping[str, Any], repository: str) -> dict[str, Any]:
        assignee = item.get("assignee") or {}
        return {
            "external_id": str(item["id"]),
            "title": clip(item.get("title") or "(untitled)", 500),
            "description": item.get("body") or None,
            "status": self.status(item),
            "url": clip(item.get("html_url"), 2000),
            "key": f"{repository}#{item.get('number')}",
            "labels": [_label(label) for label in item.get("labels") or []],
            "assignee": clip(assignee.get("login"), 255) if isinstance(assignee, Mapping) else None,
            "source_created_at": parse_time(item.get("created_at")),
            "source_updated_at": parse_time(item.get("updated_at")),
        }

    def status(self, item: Mapping[str, Any]) -> str:
        raise NotImplementedError


class GitHubIssues(_GitHubIssuesList):
    source_entity = "issues"
    wants_pull_requests = False

    def status(self, item: Mapping[str, Any]) -> str:
        return WorkItemStatus.done if item.get("state") == "closed" else WorkItemStatus.todo


class GitHubPullRequests(_GitHubIssuesList):
    source_entity = "pull_requests"
    wants_pull_requests = True

    def status(self, item: Mapping[str, Any]) -> str:
        if item.get("state") == "closed":
            # Only `merged_at` tells a merged pull request from one closed without merging.
            merged = (item.get("pull_request") or {}).get("merged_at")
            return WorkItemStatus.done if merged else WorkItemStatus.canceled
        return WorkItemStatus.in_progress if item.get("draft") else WorkItemStatus.in_review
