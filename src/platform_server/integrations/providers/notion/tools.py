"""Notion tools: pages (list, read, create) and search through the v1 API (api.notion.com/v1)."""

import re
from typing import Any

from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.client import ProviderBadRequest, ProviderClient, quote_value
from platform_server.integrations.providers.toolspec import (
    ToolSpec,
    arg,
    array,
    enum,
    integer,
    nullable,
    obj,
    string,
)
from platform_server.integrations.sync.render import notion_blocks_to_text, notion_rich_text

ID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
_ID = string("A Notion page id (32 hex digits, dashes optional).", pattern=ID_PATTERN)
_UUID = re.compile(r"^[0-9a-f]{32}$")
_MAX_TEXT = 2000


def normalize_id(value: str) -> str:
    return value.replace("-", "").lower()


def parse_parent(project: str) -> str:
    """A workspace's defaultProject as a database or page id (with or without dashes, or the tail of its URL)."""
    tail = project.strip().rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    # A bare id (dashed or not), or a page URL's last segment: "Title-<32 hex>".
    candidate = normalize_id(tail) if _UUID.match(normalize_id(tail)) else normalize_id(tail.rsplit("-", 1)[-1])
    if not _UUID.match(candidate):
        raise InvalidProject(f"defaultProject for Notion must be a database or page id; got {quote_value(project)}")
    return candidate


def _title(item: dict[str, Any]) -> str:
    if item.get("object") == "database":
        return notion_rich_text(item.get("title"))
    for prop in (item.get("properties") or {}).values():
        if isinstance(prop, dict) and prop.get("type") == "title":
            return notion_rich_text(prop.get("title"))
    return ""


def _summary(item: dict[str, Any]) -> dict[str, Any]:
    parent = item.get("parent") or {}
    return {
        "object": item.get("object", "page"),
        "id": item["id"],
        "title": _title(item),
        "url": item.get("url"),
        "lastEditedTime": item.get("last_edited_time"),
        "parentType": parent.get("type"),
    }


def _property_value(prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    if kind in ("title", "rich_text"):
        return notion_rich_text(value)
    if kind in ("select", "status"):
        return value.get("name") if isinstance(value, dict) else None
    if kind == "multi_select":
        return [option.get("name") for option in value or []]
    if kind in ("number", "checkbox", "url", "email", "phone_number"):
        return value
    if kind == "date":
        return value.get("start") if isinstance(value, dict) else None
    return None


def _text_blocks(text: str) -> list[dict[str, Any]]:
    blocks = []
    for paragraph in (part.strip() for part in text.split("\n\n")):
        # Notion limits one rich-text run to 2,000 characters.
        for start in range(0, len(paragraph), _MAX_TEXT):
            chunk = paragraph[start : start + _MAX_TEXT]
            blocks.append(
                {
                    "object": "block",
                    "type": "paragraph",
                    "paragraph": {"rich_text": [{"type": "text", "text": {"content": chunk}}]},
                }
            )
    return blocks[:100]


async def _search(client: ProviderClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/search", json=body, idempotent=True)
    data = response.data or {}
    return {
        "results": [_summary(item) for item in data.get("results") or []],
        "nextCursor": data.get("next_cursor"),
    }


async def list_pages(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filter": {"property": "object", "value": "page"},
        "sort": {"timestamp": "last_edited_time", "direction": "descending"},
        "page_size": arg(arguments, "pageSize", 20),
    }
    if arguments.get("startCursor"):
        body["start_cursor"] = arguments["startCursor"]
    found = await _search(client, body)
    return {"pages": found["results"], "nextCursor": found["nextCursor"]}


async def get_page(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    page_id = str(arguments["pageId"])
    page = (await client.get(client.path("v1", "pages", page_id))).data or {}
    result: dict[str, Any] = {
        **_summary(page),
        "properties": {
            name: _property_value(prop)
            for name, prop in (page.get("properties") or {}).items()
            if isinstance(prop, dict)
        },
        "content": None,
        "hasMoreContent": False,
    }
    if arg(arguments, "includeContent", True):
        blocks = client.path("v1", "blocks", page_id, "children")
        children = (await client.get(blocks, params={"page_size": 100})).data or {}
        result["content"] = notion_blocks_to_text(children.get("results") or [])
        result["hasMoreContent"] = bool(children.get("has_more"))
    return result


async def create_page(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    title = [{"type": "text", "text": {"content": arguments["title"]}}]
    if arguments.get("parentDatabaseId"):
        database_id = str(arguments["parentDatabaseId"])
        database = (await client.get(client.path("v1", "databases", database_id))).data or {}
        # A database's title property can have any name; find it rather than assume "Name".
        title_property = next(
            (name for name, prop in (database.get("properties") or {}).items() if prop.get("type") == "title"),
            "Name",
        )
        body: dict[str, Any] = {
            "parent": {"database_id": database_id},
            "properties": {title_property: {"title": title}},
        }
    elif arguments.get("parentPageId"):
        body = {
            "parent": {"page_id": str(arguments["parentPageId"])},
            "properties": {"title": {"title": title}},
        }
    else:
        raise ProviderBadRequest(
            "notion", "Give `parentPageId` or `parentDatabaseId`: Notion pages always have a parent"
        )
    if arguments.get("content"):
        body["children"] = _text_blocks(str(arguments["content"]))
    page = (await client.post("/v1/pages", json=body)).data or {}
    return {"id": page["id"], "title": _title(page), "url": page.get("url")}


async def search(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"query": arguments["query"], "page_size": arg(arguments, "pageSize", 20)}
    if arguments.get("filter"):
        body["filter"] = {"property": "object", "value": arguments["filter"]}
    if arguments.get("startCursor"):
        body["start_cursor"] = arguments["startCursor"]
    return await _search(client, body)


_SUMMARY = obj(
    {
        "object": {"type": "string"},
        "id": {"type": "string"},
        "title": {"type": "string"},
        "url": nullable({"type": "string"}),
        "lastEditedTime": nullable({"type": "string"}),
        "parentType": nullable({"type": "string"}),
    },
    ("object", "id", "title"),
)
_PAGE_SIZE = integer("Results per page.", 1, 100, 20)
_CURSOR = string("The `nextCursor` of the previous page.", maxLength=100)
_NEXT = nullable(string("Pass as `startCursor` for the next page; null on the last page"))

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        provider="notion",
        name="notion_list_pages",
        title="List Notion pages",
        description=(
            "List the Notion pages shared with the integration, most recently edited first (Notion has no "
            "other way to list pages). Page with `startCursor` = `nextCursor`."
        ),
        input_schema=obj({"pageSize": _PAGE_SIZE, "startCursor": _CURSOR}),
        output_schema=obj({"pages": array(_SUMMARY), "nextCursor": _NEXT}, ("pages", "nextCursor")),
        run=list_pages,
    ),
    ToolSpec(
        provider="notion",
        name="notion_get_page",
        title="Read a Notion page",
        description=(
            "Read one Notion page: its title, properties (as plain values) and, unless `includeContent` is "
            "false, its content as text (first 100 blocks; `hasMoreContent` says whether there is more)."
        ),
        input_schema=obj(
            {
                "pageId": _ID,
                "includeContent": {
                    "type": "boolean",
                    "description": "Also return the page content.",
                    "default": True,
                },
            },
            ("pageId",),
        ),
        output_schema=obj(
            {
                **_SUMMARY["properties"],
                "properties": {"type": "object"},
                "content": nullable({"type": "string"}),
                "hasMoreContent": {"type": "boolean"},
            },
            ("id", "title", "properties", "content", "hasMoreContent"),
        ),
        run=get_page,
    ),
    ToolSpec(
        provider="notion",
        name="notion_create_page",
        title="Create a Notion page",
        description=(
            "Create a Notion page under a parent page (`parentPageId`) or as an entry of a database "
            "(`parentDatabaseId`), with a title and optional plain-text content (blank lines separate "
            "paragraphs). The parent must be shared with the integration."
        ),
        input_schema=obj(
            {
                "parentPageId": _ID,
                "parentDatabaseId": string("A Notion database id.", pattern=ID_PATTERN),
                "title": string("Page title.", minLength=1, maxLength=2000),
                "content": string("Plain-text content.", maxLength=100_000),
            },
            ("title",),
            oneOf=[{"required": ["parentPageId"]}, {"required": ["parentDatabaseId"]}],
        ),
        output_schema=obj(
            {"id": {"type": "string"}, "title": {"type": "string"}, "url": nullable({"type": "string"})},
            ("id", "title", "url"),
        ),
        run=create_page,
        read_only=False,
        destructive=False,
        idempotent=False,
    ),
    ToolSpec(
        provider="notion",
        name="notion_search",
        title="Search Notion",
        description=(
            "Search the titles of the Notion pages and databases shared with the integration. `filter` limits "
            "results to pages or databases. Page with `startCursor` = `nextCursor`."
        ),
        input_schema=obj(
            {
                "query": string("Text to look for in titles.", minLength=1, maxLength=500),
                "filter": enum("Only this kind of result.", ("page", "database")),
                "pageSize": _PAGE_SIZE,
                "startCursor": _CURSOR,
            },
            ("query",),
        ),
        output_schema=obj({"results": array(_SUMMARY), "nextCursor": _NEXT}, ("results", "nextCursor")),
        run=search,
    ),
)
