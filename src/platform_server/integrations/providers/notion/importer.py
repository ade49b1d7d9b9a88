"""Notion: pages → features. Search is the only listing and cannot filter by time, so it runs newest edit
first and stops at the cursor; page content (blocks) is fetched only for new and changed pages."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from platform_server.features.models import FeatureStatus
from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.providers.notion.api import notion_pages
from platform_server.integrations.providers.notion.tools import normalize_id, parse_parent
from platform_server.integrations.sync.base import (
    Importer,
    ImportScope,
    Page,
    clip,
    parse_time,
)
from platform_server.integrations.sync.render import notion_blocks_to_text, notion_rich_text

PAGE_SIZE = 100
# Block fetches run side by side, but few at a time: Notion allows about three requests a second.
BLOCK_FETCH_CONCURRENCY = 4
_STATUS_WORDS = (
    (("done", "complete", "completed", "shipped", "released"), FeatureStatus.done),
    (("cancel", "cancelled", "canceled", "won't do", "abandoned"), FeatureStatus.canceled),
    (("in progress", "doing", "started", "in review", "building"), FeatureStatus.in_progress),
    (("planned", "next", "up next", "scheduled"), FeatureStatus.planned),
)


def _parent_id(page: Mapping[str, Any]) -> str | None:
    parent = page.get("parent") or {}
    kind = parent.get("type")
    value = parent.get(kind) if isinstance(kind, str) else None
    return normalize_id(value) if isinstance(value, str) else None


def _title(properties: Mapping[str, Any]) -> str:
    for prop in properties.values():
        if isinstance(prop, Mapping) and prop.get("type") == "title":
            return notion_rich_text(prop.get("title")).strip()
    return ""


def _status(page: Mapping[str, Any]) -> str:
    if page.get("archived") or page.get("in_trash"):
        return FeatureStatus.canceled
    for name, prop in (page.get("properties") or {}).items():
        if not isinstance(prop, Mapping) or str(name).lower() != "status":
            continue
        value = prop.get(prop.get("type") or "") or {}
        label = str(value.get("name") or "").lower() if isinstance(value, Mapping) else ""
        for words, status in _STATUS_WORDS:
            if any(word in label for word in words):
                return status
    return FeatureStatus.backlog


class NotionPages(Importer):
    provider = "notion"
    source_entity = "pages"
    target_entity = "features"
    ascending = False
    project_required = False
    project_hint = "optionally a database or page id whose pages to import"
    parse_project = staticmethod(parse_parent)
    columns = ("title", "description", "status", "url", "source_created_at", "source_updated_at")
    needs_completion = True

    async def pages(
        self, client: ProviderClient, scope: ImportScope, since: datetime | None, resume: str | None
    ) -> AsyncIterator[Page]:
        body: dict[str, Any] = {
            "filter": {"property": "object", "value": "page"},
            "sort": {"timestamp": "last_edited_time", "direction": "descending"},
            "page_size": PAGE_SIZE,
        }
        if resume:
            body["start_cursor"] = resume
        while True:
            response = await client.post("/v1/search", json=body, idempotent=True)
            data = response.data or {}
            results = [page for page in data.get("results") or [] if isinstance(page, Mapping)]
            rows, reached_cursor, high = [], False, None
            for page in results:
                edited = parse_time(page.get("last_edited_time"))
                if since is not None and edited is not None and edited < since:
                    reached_cursor = True
                    break
                high = edited if high is None or (edited is not None and edited > high) else high
                if scope.project is None or _parent_id(page) == scope.project:
                    rows.append(self.map(page))
            token = data.get("next_cursor") if data.get("has_more") and not reached_cursor else None
            yield Page(rows, high, token)
            if not token:
                return
            body["start_cursor"] = token

    def map(self, page: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "external_id": normalize_id(str(page["id"])),
            "title": clip(_title(page.get("properties") or {}) or "(untitled)", 500),
            "description": None,
            "status": _status(page),
            "url": clip(page.get("url"), 2000),
            "source_created_at": parse_time(page.get("created_time")),
            "source_updated_at": parse_time(page.get("last_edited_time")),
        }

    async def complete(self, client: ProviderClient, scope: ImportScope, rows: list[dict[str, Any]]) -> None:
        limit = asyncio.Semaphore(BLOCK_FETCH_CONCURRENCY)

        async def fill(row: dict[str, Any]) -> None:
            async with limit:
                blocks: list[Any] = []
                async for batch in notion_pages(
                    client, "GET", client.path("v1", "blocks", row["external_id"], "children"), {"page_size": PAGE_SIZE}
                ):
                    blocks.extend(batch)
            row["description"] = notion_blocks_to_text(blocks)

        await asyncio.gather(*(fill(row) for row in rows))
