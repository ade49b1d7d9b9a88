"""Notion tools: pages (list, read, create) and search through the v1 API (api.notion.com/v1), Notion-Version
2025-09-03: database rows live in the database's data sources."""

import re
from typing import Any

from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.client import ProviderBadRequest, ProviderClient, quote_value
from platform_server.integrations.providers.notion.content import read_content
from platform_server.integrations.providers.notion.data_sources import DataSource, data_sources
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
# What one page read returns: enough for long documents, bounded for the model's context and Notion's limits.
_CONTENT_BLOCKS = 500
_CONTENT_DEPTH = 5


def normalize_id(value: str) -> str:
    return value.replace("-", "").lower()


def parse_parent(project: str) -> str:
    """A workspace's defaultProject as a database, data source or page id (with or without dashes, or the tail of
    its URL)."""
    tail = project.strip().rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    # A bare id (dashed or not), or a page URL's last segment: "Title-<32 hex>".
    candidate = normalize_id(tail) if _UUID.match(normalize_id(tail)) else normalize_id(tail.rsplit("-", 1)[-1])
    if not _UUID.match(candidate):
        raise InvalidProject(
            f"defaultProject for Notion must be a database, data source or page id; got {quote_value(project)}"
        )
    return candidate


def _title(item: dict[str, Any]) -> str:
    if item.get("object") in ("database", "data_source"):
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
        # For a data source, its database; for a page in a data source, the database holding it.
        "databaseId": parent.get("database_id"),
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
        content = await read_content(client, page_id, max_blocks=_CONTENT_BLOCKS, max_depth=_CONTENT_DEPTH)
        result["content"] = notion_blocks_to_text(content.blocks)
        result["hasMoreContent"] = not content.complete
    return result


def _sources_named(sources: list[DataSource]) -> str:
    return ", ".join(f"{quote_value(source.name)} ({source.id})" for source in sources)


async def _data_source_id(client: ProviderClient, arguments: dict[str, Any]) -> str:
    """The data source a new database entry goes to: `parentDataSourceId`, or the only one of
    `parentDatabaseId`; a database with several needs the caller to choose, and the error names them."""
    if arguments.get("parentDataSourceId"):
        return str(arguments["parentDataSourceId"])
    database_id = str(arguments["parentDatabaseId"])
    sources = await data_sources(client, database_id)
    if len(sources) == 1:
        return sources[0].id
    if not sources:
        raise ProviderBadRequest("notion", f"Notion database {database_id} has no data source to add a page to")
    raise ProviderBadRequest(
        "notion",
        f"Notion database {database_id} has {len(sources)} data sources: {_sources_named(sources)}. "
        "Give the one to add the page to as `parentDataSourceId`",
    )


async def create_page(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    title = [{"type": "text", "text": {"content": arguments["title"]}}]
    if arguments.get("parentDatabaseId") or arguments.get("parentDataSourceId"):
        source_id = await _data_source_id(client, arguments)
        source = (await client.get(client.path("v1", "data_sources", source_id))).data or {}
        # A data source's title property can have any name; find it rather than assume "Name".
        title_property = next(
            (name for name, prop in (source.get("properties") or {}).items() if prop.get("type") == "title"),
            "title",
        )
        body: dict[str, Any] = {
            "parent": {"type": "data_source_id", "data_source_id": source_id},
            "properties": {title_property: {"title": title}},
        }
    elif arguments.get("parentPageId"):
        body = {
            "parent": {"type": "page_id", "page_id": str(arguments["parentPageId"])},
            "properties": {"title": {"title": title}},
        }
    else:
        raise ProviderBadRequest(
            "notion",
            "Give `parentPageId`, `parentDataSourceId` or `parentDatabaseId`: Notion pages always have a parent",
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
        "databaseId": nullable({"type": "string"}),
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
            f"false, its content as text, nested blocks (list items, toggles) indented under their parent (up to "
            f"{_CONTENT_BLOCKS} blocks and {_CONTENT_DEPTH} levels of nesting; `hasMoreContent` says whether "
            "there is more)."
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
            "Create a Notion page under a parent page (`parentPageId`) or as an entry of a database: give the "
            "database's data source (`parentDataSourceId`, as `notion_search` with filter `data_source` lists "
            "them), or the database (`parentDatabaseId`) when it has a single data source — for a database "
            "with several, the error names them to choose from. With a title and optional plain-text content "
            "(blank lines separate paragraphs). The parent must be shared with the integration."
        ),
        input_schema=obj(
            {
                "parentPageId": _ID,
                "parentDataSourceId": string("A Notion data source id (a table of a database).", pattern=ID_PATTERN),
                "parentDatabaseId": string(
                    "A Notion database id; the database must have a single data source.", pattern=ID_PATTERN
                ),
                "title": string("Page title.", minLength=1, maxLength=2000),
                "content": string("Plain-text content.", maxLength=100_000),
            },
            ("title",),
            oneOf=[
                {"required": ["parentPageId"]},
                {"required": ["parentDataSourceId"]},
                {"required": ["parentDatabaseId"]},
            ],
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
            "Search the titles of the Notion pages and data sources (the tables of databases; `databaseId` names "
            "the database holding one) shared with the integration. `filter` limits results to pages or data "
            "sources. Notion's search is not exhaustive and lags recent edits. Page with `startCursor` = "
            "`nextCursor`."
        ),
        input_schema=obj(
            {
                "query": string("Text to look for in titles.", minLength=1, maxLength=500),
                "filter": enum("Only this kind of result.", ("page", "data_source")),
                "pageSize": _PAGE_SIZE,
                "startCursor": _CURSOR,
            },
            ("query",),
        ),
        output_schema=obj({"results": array(_SUMMARY), "nextCursor": _NEXT}, ("results", "nextCursor")),
        run=search,
    ),
)
