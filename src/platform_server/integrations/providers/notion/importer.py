"""Notion: pages → features, read where Notion lists them completely.

Notion documents search as neither exhaustive nor immediately consistent, so a run is a sequence of passes
over complete listings, and search never decides alone that nothing changed:

- a database (or data source) project: each data source is queried (`POST /v1/data_sources/{id}/query`)
  for pages edited since the cursor, oldest edit first, every page by cursor;
- a page project: the page's child pages, from its block children, read again only when edited;
- no project: the data sources search finds are queried as above; the other pages come from search, all of
  them every run (unchanged ones cost neither block reads nor writes), never cut short at the cursor.

Page content (nested blocks included) is read only for new and changed pages.
"""

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from platform_server.features.models import FeatureStatus
from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.providers.notion.api import notion_pages
from platform_server.integrations.providers.notion.content import PAGE_SIZE, read_content
from platform_server.integrations.providers.notion.data_sources import data_sources_of
from platform_server.integrations.providers.notion.tools import normalize_id, parse_parent
from platform_server.integrations.sync.base import (
    Importer,
    ImportScope,
    Page,
    clip,
    newest,
    parse_time,
)
from platform_server.integrations.sync.render import notion_blocks_to_text, notion_rich_text
from platform_server.log import get_logger

logger = get_logger(__name__)

# Block fetches run side by side, but few at a time: Notion allows about three requests a second.
BLOCK_FETCH_CONCURRENCY = 4
# A feature's description: the page's content within these bounds.
CONTENT_BLOCKS = 1000
CONTENT_DEPTH = 5
_STATUS_WORDS = (
    (("done", "complete", "completed", "shipped", "released"), FeatureStatus.done),
    (("cancel", "cancelled", "canceled", "won't do", "abandoned"), FeatureStatus.canceled),
    (("in progress", "doing", "started", "in review", "building"), FeatureStatus.in_progress),
    (("planned", "next", "up next", "scheduled"), FeatureStatus.planned),
)


@dataclass(frozen=True, slots=True)
class _Pass:
    """One complete listing: a data source's query, a page's child pages, or search for pages outside the
    data sources in `covered`."""

    kind: str
    target: str = ""
    covered: frozenset[str] = frozenset()


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


def _resume_point(resume: str | None) -> tuple[int, str | None]:
    """(pass index, Notion cursor within it) from a page token; a token of another form starts over."""
    try:
        data = orjson.loads(resume) if resume else None
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("pass"), int):
        return 0, None
    cursor = data.get("cursor")
    return data["pass"], cursor if isinstance(cursor, str) else None


def _token(index: int, cursor: str | None) -> str:
    return orjson.dumps({"pass": index, "cursor": cursor}).decode()


class NotionPages(Importer):
    provider = "notion"
    source_entity = "pages"
    target_entity = "features"
    # Passes follow each other, so a resumed run continues from its page token rather than a watermark.
    ascending = False
    project_required = False
    project_hint = "optionally a database, data source or page id whose pages to import"
    parse_project = staticmethod(parse_parent)
    columns = ("title", "description", "status", "url", "source_created_at", "source_updated_at")
    needs_completion = True

    async def pages(
        self, client: ProviderClient, scope: ImportScope, since: datetime | None, resume: str | None
    ) -> AsyncIterator[Page]:
        passes = await self._passes(client, scope)
        start, cursor = _resume_point(resume)
        for index, step in enumerate(passes[start:], start=start):
            listing = self._listing(client, step, since, cursor if index == start else None)
            async for rows, high, next_cursor in listing:
                if next_cursor is not None:
                    token: str | None = _token(index, next_cursor)
                else:
                    token = _token(index + 1, None) if index + 1 < len(passes) else None
                yield Page(rows, high, token)

    async def _passes(self, client: ProviderClient, scope: ImportScope) -> list[_Pass]:
        if scope.project is not None:
            sources = await data_sources_of(client, scope.project)
            if sources is None:
                return [_Pass("children", scope.project)]
            return [_Pass("source", source.id) for source in sources]
        found: set[str] = set()
        body = {"filter": {"property": "object", "value": "data_source"}, "page_size": PAGE_SIZE}
        async for batch in notion_pages(client, "POST", "/v1/search", body):
            found.update(str(item["id"]) for item in batch if isinstance(item, Mapping) and item.get("id"))
        ordered = sorted(found)
        return [*(_Pass("source", source) for source in ordered), _Pass("search", covered=frozenset(ordered))]

    def _listing(
        self, client: ProviderClient, step: _Pass, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], datetime | None, str | None]]:
        if step.kind == "source":
            return self._query(client, step.target, since, cursor)
        if step.kind == "children":
            return self._children(client, step.target, since, cursor)
        return self._search(client, step.covered, cursor)

    async def _query(
        self, client: ProviderClient, source_id: str, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], datetime | None, str | None]]:
        body: dict[str, Any] = {
            "sorts": [{"timestamp": "last_edited_time", "direction": "ascending"}],
            "page_size": PAGE_SIZE,
        }
        if since is not None:
            # `since` already reaches back by the engine's overlap.
            body["filter"] = {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": since.isoformat()}}
        if cursor:
            body["start_cursor"] = cursor
        path = client.path("v1", "data_sources", source_id, "query")
        while True:
            data = (await client.post(path, json=body, idempotent=True)).data or {}
            pages = [page for page in data.get("results") or [] if _is_page(page)]
            token = data.get("next_cursor") if data.get("has_more") else None
            yield [self.map(page) for page in pages], _newest_edit(pages), token
            if not token:
                return
            body["start_cursor"] = token

    async def _children(
        self, client: ProviderClient, page_id: str, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], datetime | None, str | None]]:
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        if cursor:
            params["start_cursor"] = cursor
        path = client.path("v1", "blocks", page_id, "children")
        while True:
            data = (await client.get(path, params=params)).data or {}
            children = [
                block
                for block in data.get("results") or []
                if isinstance(block, Mapping) and block.get("type") == "child_page" and block.get("id")
            ]
            edited = [
                block
                for block in children
                if since is None or (parse_time(block.get("last_edited_time")) or since) >= since
            ]
            pages = [(await client.get(client.path("v1", "pages", str(block["id"])))).data or {} for block in edited]
            token = data.get("next_cursor") if data.get("has_more") else None
            yield [self.map(page) for page in pages if _is_page(page)], _newest_edit(children), token
            if not token:
                return
            params["start_cursor"] = token

    async def _search(
        self, client: ProviderClient, covered: frozenset[str], cursor: str | None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], datetime | None, str | None]]:
        body: dict[str, Any] = {
            "filter": {"property": "object", "value": "page"},
            "sort": {"timestamp": "last_edited_time", "direction": "descending"},
            "page_size": PAGE_SIZE,
        }
        if cursor:
            body["start_cursor"] = cursor
        while True:
            data = (await client.post("/v1/search", json=body, idempotent=True)).data or {}
            pages = [
                page
                for page in data.get("results") or []
                if _is_page(page) and (page.get("parent") or {}).get("data_source_id") not in covered
            ]
            if (data.get("request_status") or {}).get("type") == "incomplete":
                logger.warning("notion_search_incomplete", reason=data["request_status"].get("incomplete_reason"))
            token = data.get("next_cursor") if data.get("has_more") else None
            yield [self.map(page) for page in pages], _newest_edit(pages), token
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
                content = await read_content(
                    client, row["external_id"], max_blocks=CONTENT_BLOCKS, max_depth=CONTENT_DEPTH
                )
            row["description"] = notion_blocks_to_text(content.blocks)

        await asyncio.gather(*(fill(row) for row in rows))


def _is_page(item: Any) -> bool:
    return isinstance(item, Mapping) and item.get("object", "page") == "page" and bool(item.get("id"))


def _newest_edit(items: list[Any]) -> datetime | None:
    high = None
    for item in items:
        high = newest(high, parse_time(item.get("last_edited_time")))
    return high
