"""Simulated Notion: OAuth (Basic + JSON) and the v1 endpoints for search, pages, databases, data sources and
blocks, as Notion-Version 2025-09-03 has them.

The seeded "Product Roadmap" database holds two data sources, so a request under an older version that reads,
queries or creates a page in it fails the way Notion fails it for multi-source databases, and the data-source
endpoints do not exist there. Search can be made to stop early (`search_limit`) and to lag edits
(`search_index_delay`): Notion documents it as neither exhaustive nor immediately consistent. Page content
nests: blocks with `has_children` have children of their own.
"""

import base64
import re
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from platform_server.sandbox.common import (
    Problem,
    answers_problems,
    bearer_token,
    client_id_for,
    client_secret_for,
    iso,
    json_response,
    parse_iso,
    stable_uuid,
)
from platform_server.sandbox.gate import ProviderGate, provider_app
from platform_server.sandbox.oauth import notion_bot_id, notion_workspace_id, oauth_routes
from platform_server.sandbox.store import AccessToken, SandboxStore
from platform_server.sandbox.worlds import NOTION_STATUSES, NotionWorld
from platform_server.security import constant_time_equals

CURRENT_VERSION = "2025-09-03"
VERSIONS = ("2022-06-28", CURRENT_VERSION)
MULTI_SOURCE = "Databases with multiple data sources are not supported in this API version."
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_BLOCK_TYPES = (
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "quote",
    "code",
    "callout",
)
# A free workspace's limit on one uploaded file (5 MiB), which Notion tells the bot about.
_FREE_PLAN_UPLOAD_LIMIT = 5 * 1024 * 1024
_STATUS_COLORS = {"Not started": "default", "In progress": "blue", "Done": "green"}


def error(status: int, message: str, code: str | None = None) -> Response:
    code = code or {
        400: "invalid_request",
        401: "unauthorized",
        404: "object_not_found",
        405: "invalid_request_url",
    }.get(status, "validation_error")
    return json_response(
        {
            "object": "error",
            "status": status,
            "code": code,
            "message": message,
            "request_id": str(uuid.uuid4()),
        },
        status,
    )


def _invalid(message: str) -> Problem:
    return Problem(error(400, message, "validation_error"))


def rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "text",
            "text": {"content": text, "link": None},
            "annotations": {
                "bold": False,
                "italic": False,
                "strikethrough": False,
                "underline": False,
                "code": False,
                "color": "default",
            },
            "plain_text": text,
            "href": None,
        }
    ]


def _normalize_id(value: str, name: str) -> str:
    if not _UUID.match(value):
        raise _invalid(f'path failed validation: path.{name} should be a valid uuid, instead was `"{value}"`.')
    return str(uuid.UUID(value))


def create_notion_app(store: SandboxStore) -> ProviderGate:
    def world() -> NotionWorld:
        result: NotionWorld = store.world("notion")
        return result

    def auth(request: Request) -> tuple[AccessToken, str]:
        """The token's record and the request's Notion-Version."""
        record, _ = store.authenticate("notion", bearer_token(request))
        if record is None:
            raise Problem(error(401, "API token is invalid."))
        version = request.headers.get("notion-version")
        if version is None:
            raise Problem(
                error(
                    400,
                    "Notion-Version header failed validation: Notion-Version header should be "
                    "defined, instead was `undefined`.",
                    "missing_version",
                )
            )
        if version not in VERSIONS:
            raise _invalid(f"Notion-Version header failed validation: `{version}` is not a supported version.")
        return record, version

    # -- shaping -------------------------------------------------------------------------------------------

    def bot_id(record: AccessToken) -> str:
        return notion_bot_id(record.grant.account.login)

    def lookup(page_id: str) -> dict[str, Any] | None:
        notion = world()
        number = notion.roadmap_number(page_id)
        if number is not None:
            return notion.roadmap_page(number)
        return notion.pages.get(page_id)

    def page_json(page_id: str, page: dict[str, Any], record: AccessToken, version: str) -> dict[str, Any]:
        title = page["title"]
        parent = page["parent"]
        if parent["type"] == "data_source_id":
            properties = _page_properties(world(), parent["data_source_id"], page)
            if version < CURRENT_VERSION:
                parent = {"type": "database_id", "database_id": parent["database_id"]}
        else:
            properties = {"title": {"id": "title", "type": "title", "title": rich_text(title)}}
        author = {"object": "user", "id": bot_id(record)}
        slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
        return {
            "object": "page",
            "id": page_id,
            "created_time": iso(page["created"], millis=True),
            "last_edited_time": iso(page["edited"], millis=True),
            "created_by": author,
            "last_edited_by": author,
            "cover": None,
            "icon": None,
            "parent": parent,
            "archived": False,
            "in_trash": False,
            "properties": properties,
            "url": f"https://www.notion.so/{slug}-{page_id.replace('-', '')}",
            "public_url": None,
        }

    def database_json() -> dict[str, Any]:
        notion = world()
        return {
            "object": "database",
            "id": notion.database_id,
            "created_time": iso(notion.database_edited, millis=True),
            "last_edited_time": iso(notion.database_edited, millis=True),
            "title": rich_text("Product Roadmap"),
            "description": [],
            "parent": {"type": "workspace", "workspace": True},
            "url": f"https://www.notion.so/{notion.database_id.replace('-', '')}",
            "public_url": None,
            "archived": False,
            "in_trash": False,
            "is_inline": False,
            "is_locked": False,
            "icon": None,
            "cover": None,
            "data_sources": [{"id": source_id, "name": name} for source_id, name in notion.data_sources.items()],
        }

    def data_source_json(data_source_id: str, record: AccessToken) -> dict[str, Any]:
        notion = world()
        author = {"object": "user", "id": bot_id(record)}
        return {
            "object": "data_source",
            "id": data_source_id,
            "created_time": iso(notion.database_edited, millis=True),
            "last_edited_time": iso(notion.database_edited, millis=True),
            "created_by": author,
            "last_edited_by": author,
            "title": rich_text(notion.data_sources[data_source_id]),
            "description": [],
            "parent": {"type": "database_id", "database_id": notion.database_id},
            "database_parent": {"type": "workspace", "workspace": True},
            "is_inline": False,
            "archived": False,
            "in_trash": False,
            "properties": _schema(notion, data_source_id),
            "icon": None,
            "cover": None,
            "url": f"https://www.notion.so/{data_source_id.replace('-', '')}",
            "public_url": None,
        }

    def listing(results: list[dict[str, Any]], next_cursor: str | None, kind: str, **extra: Any) -> Response:
        return json_response(
            {
                "object": "list",
                "results": results,
                "next_cursor": next_cursor,
                "has_more": next_cursor is not None,
                "type": kind,
                kind: {},
                **extra,
                "request_id": str(uuid.uuid4()),
            }
        )

    def paginate(refs: list[str], body: dict[str, Any]) -> tuple[list[str], str | None]:
        size = body.get("page_size", 100)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100:
            raise _invalid(
                f"body failed validation: body.page_size should be a number between 1 and 100, instead was `{size}`."
            )
        start = 0
        cursor = body.get("start_cursor")
        if cursor is not None:
            if not isinstance(cursor, str) or cursor not in refs:
                raise _invalid(f"The start_cursor provided is invalid: {cursor}")
            start = refs.index(cursor)
        page = refs[start : start + size]
        return page, refs[start + size] if start + size < len(refs) else None

    def all_pages(notion: NotionWorld) -> list[tuple[str, float, Callable[[], str]]]:
        """(id, last edited, title getter) for every page, newest edit first."""

        def build() -> list[tuple[str, float, Callable[[], str]]]:
            items: list[tuple[str, float, Callable[[], str]]] = [
                (notion.roadmap_id(n), notion.roadmap.updated(n), partial(_roadmap_title, notion, n))
                for n in range(1, notion.roadmap.total + 1)
            ]
            items += [(pid, page["edited"], partial(str, page["title"])) for pid, page in notion.pages.items()]
            items.sort(key=lambda item: item[1], reverse=True)
            return items

        result: list[tuple[str, float, Callable[[], str]]] = notion.roadmap.cached(("all", len(notion.pages)), build)
        return result

    def source_pages(notion: NotionWorld, data_source_id: str) -> list[tuple[str, float, Callable[[], Any]]]:
        """(id, last edited, status getter) for every page of a data source."""
        items: list[tuple[str, float, Callable[[], Any]]] = []
        if data_source_id == notion.roadmap_source_id:
            items += [
                (notion.roadmap_id(n), notion.roadmap.updated(n), partial(_roadmap_status, notion, n))
                for n in range(1, notion.roadmap.total + 1)
            ]
        items += [
            (pid, page["edited"], partial(page.get, "status", NOTION_STATUSES[0]))
            for pid, page in notion.pages.items()
            if page["parent"].get("data_source_id") == data_source_id
        ]
        return items

    def database_or_404(raw_id: str) -> str:
        database_id = _normalize_id(raw_id, "database_id")
        if database_id != world().database_id:
            raise Problem(
                error(
                    404,
                    f"Could not find database with ID: {database_id}. Make sure the relevant "
                    "pages and databases are shared with your integration.",
                )
            )
        return database_id

    def data_source_or_404(raw_id: str) -> str:
        data_source_id = _normalize_id(raw_id, "data_source_id")
        if data_source_id not in world().data_sources:
            raise Problem(
                error(
                    404,
                    f"Could not find data_source with ID: {data_source_id}. Make sure the relevant "
                    "pages and databases are shared with your integration.",
                )
            )
        return data_source_id

    # -- endpoints -----------------------------------------------------------------------------------------

    @answers_problems
    async def users_me(request: Request) -> Response:
        record, _ = auth(request)
        return json_response(
            {
                "object": "user",
                "id": bot_id(record),
                "name": "Platform",
                "avatar_url": None,
                "type": "bot",
                "bot": {
                    "owner": {"type": "workspace", "workspace": True},
                    "workspace_id": notion_workspace_id(record.grant.account.login),
                    "workspace_name": record.grant.account.display_name,
                    "workspace_limits": {"max_file_upload_size_in_bytes": _FREE_PLAN_UPLOAD_LIMIT},
                },
                "request_id": str(uuid.uuid4()),
            }
        )

    @answers_problems
    async def search(request: Request) -> Response:
        record, version = auth(request)
        current = version >= CURRENT_VERSION
        body = await _json(request)
        query = body.get("query", "")
        if not isinstance(query, str):
            raise _invalid("body failed validation: body.query should be a string.")
        filter_ = body.get("filter")
        wanted: str | None = None
        if filter_ is not None:
            allowed = ("page", "data_source") if current else ("page", "database")
            if (
                not isinstance(filter_, dict)
                or filter_.get("property") != "object"
                or filter_.get("value") not in allowed
            ):
                raise _invalid(
                    f'body failed validation: body.filter.value should be `"{allowed[0]}"` or `"{allowed[1]}"`.'
                )
            wanted = filter_["value"]
        sort = body.get("sort")
        ascending = False
        if sort is not None:
            if (
                not isinstance(sort, dict)
                or sort.get("timestamp") != "last_edited_time"
                or sort.get("direction") not in ("ascending", "descending")
            ):
                raise _invalid(
                    "body failed validation: body.sort should be an object with timestamp "
                    "`last_edited_time` and direction `ascending` or `descending`."
                )
            ascending = sort["direction"] == "ascending"
        notion = world()
        needle = query.lower().strip()

        def build() -> list[str]:
            # Older versions cannot show a multi-source database at all; newer ones list its data sources.
            refs = [
                source_id
                for source_id, name in notion.data_sources.items()
                if current and wanted != "page" and (not needle or needle in name.lower())
            ]
            if wanted in (None, "page"):
                refs += [pid for pid, _, title in all_pages(notion) if not needle or needle in title().lower()]
            if ascending:
                refs.reverse()
            return refs

        refs: list[str] = notion.roadmap.cached(
            ("search", needle, wanted, ascending, len(notion.pages), current), build
        )
        if notion.search_index_delay:
            indexed_before = time.time() - notion.search_index_delay
            edits = {pid: edited for pid, edited, _ in all_pages(notion)}
            refs = [ref for ref in refs if edits.get(ref, 0.0) <= indexed_before]
        extra: dict[str, Any] = {}
        if notion.search_limit is not None and len(refs) > notion.search_limit:
            refs = refs[: notion.search_limit]
            extra["request_status"] = {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
        page, next_cursor = paginate(refs, body)
        results = []
        for ref in page:
            if ref in notion.data_sources:
                results.append(data_source_json(ref, record))
            else:
                found = lookup(ref)
                assert found is not None
                results.append(page_json(ref, found, record, version))
        kind = "page_or_data_source" if current else "page_or_database"
        return listing(results, next_cursor, kind, **(extra if next_cursor is None else {}))

    @answers_problems
    async def get_page(request: Request) -> Response:
        record, version = auth(request)
        page_id = _normalize_id(request.path_params["page_id"], "page_id")
        page = lookup(page_id)
        if page is None:
            raise Problem(
                error(
                    404,
                    f"Could not find page with ID: {page_id}. Make sure the relevant pages and "
                    "databases are shared with your integration.",
                )
            )
        return json_response(page_json(page_id, page, record, version))

    @answers_problems
    async def get_database(request: Request) -> Response:
        _, version = auth(request)
        database_or_404(request.path_params["database_id"])
        if version < CURRENT_VERSION:
            raise _invalid(MULTI_SOURCE)
        return json_response(database_json())

    @answers_problems
    async def query_database(request: Request) -> Response:
        _, version = auth(request)
        if version >= CURRENT_VERSION:
            # Rows are queried per data source since 2025-09-03.
            raise Problem(error(400, "Invalid request URL.", "invalid_request_url"))
        database_or_404(request.path_params["database_id"])
        raise _invalid(MULTI_SOURCE)

    @answers_problems
    async def get_data_source(request: Request) -> Response:
        record, version = auth(request)
        if version < CURRENT_VERSION:
            raise Problem(error(400, "Invalid request URL.", "invalid_request_url"))
        data_source_id = data_source_or_404(request.path_params["data_source_id"])
        return json_response(data_source_json(data_source_id, record))

    @answers_problems
    async def query_data_source(request: Request) -> Response:
        record, version = auth(request)
        if version < CURRENT_VERSION:
            raise Problem(error(400, "Invalid request URL.", "invalid_request_url"))
        notion = world()
        data_source_id = data_source_or_404(request.path_params["data_source_id"])
        body = await _json(request)
        filter_ = body.get("filter")
        sorts = body.get("sorts") or [{"timestamp": "last_edited_time", "direction": "descending"}]
        if not isinstance(sorts, list) or not all(isinstance(s, dict) for s in sorts):
            raise _invalid("body failed validation: body.sorts should be an array.")
        ascending = sorts[0].get("direction") == "ascending"
        items = [item for item in source_pages(notion, data_source_id) if _matches(filter_, item[1], item[2])]
        items.sort(key=lambda item: item[1], reverse=not ascending)
        page, next_cursor = paginate([item[0] for item in items], body)
        results = [page_json(ref, lookup(ref) or {}, record, version) for ref in page]
        return listing(results, next_cursor, "page_or_data_source")

    def block_json(
        block_id: str,
        parent: dict[str, Any],
        page: dict[str, Any],
        kind: str,
        content: dict[str, Any],
        *,
        author: str,
        has_children: bool,
    ) -> dict[str, Any]:
        """A block object; the times of `page`, the page it belongs to, stand in for the block's."""
        user = {"object": "user", "id": author}
        return {
            "object": "block",
            "id": block_id,
            "parent": parent,
            "created_time": iso(page["created"], millis=True),
            "created_by": user,
            "last_edited_time": iso(page["edited"], millis=True),
            "last_edited_by": user,
            "has_children": has_children,
            "archived": False,
            "in_trash": False,
            "type": kind,
            kind: content,
        }

    @answers_problems
    async def block_children(request: Request) -> Response:
        record, _ = auth(request)
        notion = world()
        block_id = _normalize_id(request.path_params["block_id"], "block_id")
        page = lookup(block_id)
        parent: dict[str, Any] = {"type": "page_id", "page_id": block_id}
        if page is not None:
            children = tuple(page["blocks"])
        elif block_id in notion.nested_blocks:
            page, children = notion.nested_blocks[block_id]
            parent = {"type": "block_id", "block_id": block_id}
        else:
            raise Problem(
                error(
                    404,
                    f"Could not find block with ID: {block_id}. Make sure the relevant pages and "
                    "databases are shared with your integration.",
                )
            )
        author = bot_id(record)
        blocks = []
        for index, (kind, text, nested) in enumerate(children):
            child_id = stable_uuid(block_id, "block", index)
            if nested:
                notion.nested_blocks[child_id] = (page, nested)
            content = _block_content(kind, text)
            blocks.append(block_json(child_id, parent, page, kind, content, author=author, has_children=bool(nested)))
        # A page's child pages are blocks of it too (`child_page`, with the page's id).
        blocks += [
            block_json(
                child_id,
                parent,
                child,
                "child_page",
                {"title": child["title"]},
                author=author,
                has_children=bool(child["blocks"]),
            )
            for child_id, child in notion.pages.items()
            if child["parent"] == {"type": "page_id", "page_id": block_id}
        ]
        params = dict(request.query_params)
        body: dict[str, Any] = {"page_size": _int(params.get("page_size", "100"))}
        if "start_cursor" in params:
            body["start_cursor"] = params["start_cursor"]
        ids = [block["id"] for block in blocks]
        selected, next_cursor = paginate(ids, body)
        return listing([block for block in blocks if block["id"] in selected], next_cursor, "block")

    @answers_problems
    async def create_page(request: Request) -> Response:
        record, version = auth(request)
        notion = world()
        body = await _json(request)
        parent = body.get("parent")
        if not isinstance(parent, dict):
            raise _invalid("body failed validation: body.parent should be defined, instead was `undefined`.")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise _invalid("body failed validation: body.properties should be an object.")
        if "data_source_id" in parent and version >= CURRENT_VERSION:
            target = data_source_or_404(str(parent["data_source_id"]))
            schema = _schema(notion, target)
            known = set(schema) | {prop["id"] for prop in schema.values()}
            unknown = [name for name in properties if name not in known]
            if unknown:
                raise _invalid(f"{unknown[0]} is not a property that exists.")
            title_name = next(name for name, prop in schema.items() if prop["type"] == "title")
            title = _title(properties.get(title_name) or properties.get("title"))
            new_parent = notion.source_parent(target)
        elif "database_id" in parent:
            target = database_or_404(str(parent["database_id"]))
            if version < CURRENT_VERSION:
                raise _invalid(MULTI_SOURCE)
            raise _invalid(f"Database {target} has more than one data source: use a data_source_id parent.")
        elif "page_id" in parent:
            target = _normalize_id(str(parent["page_id"]), "page_id")
            if lookup(target) is None:
                raise Problem(
                    error(
                        404,
                        f"Could not find page with ID: {target}. Make sure the relevant pages and "
                        "databases are shared with your integration.",
                    )
                )
            unknown = [name for name in properties if name != "title"]
            if unknown:
                raise _invalid(f"{unknown[0]} is not a property that exists.")
            title = _title(properties.get("title"))
            new_parent = {"type": "page_id", "page_id": target}
        elif parent.get("workspace") is True:
            title = _title(properties.get("title"))
            new_parent = {"type": "workspace", "workspace": True}
        else:
            kinds = "a page_id, data_source_id, database_id or workspace"
            raise _invalid(f"body failed validation: body.parent should be {kinds}.")
        children = body.get("children") or []
        if not isinstance(children, list) or len(children) > 100:
            raise _invalid("body failed validation: body.children.length should be ≤ `100`.")
        blocks = [_block(child, index) for index, child in enumerate(children)]
        page_id = str(uuid.uuid4())
        now = time.time()
        notion.pages[page_id] = {
            "title": title,
            "parent": new_parent,
            "created": now,
            "edited": now,
            "blocks": blocks,
        }
        return json_response(page_json(page_id, notion.pages[page_id], record, version))

    async def revoke(request: Request) -> Response:
        if not _client_ok(request):
            return json_response({"error": "invalid_client"}, 401)
        body = orjson.loads(await request.body() or b"{}")
        record = store.access_tokens.get(str(body.get("token", ""))) if isinstance(body, dict) else None
        if record is None or record.grant.provider != "notion":
            return json_response({"error": "invalid_token"}, 400)
        store.revoke_grant(record.grant)
        return json_response({})

    async def introspect(request: Request) -> Response:
        if not _client_ok(request):
            return json_response({"error": "invalid_client"}, 401)
        body = orjson.loads(await request.body() or b"{}")
        token = str(body.get("token", "")) if isinstance(body, dict) else ""
        record, _ = store.authenticate("notion", token)
        if record is None:
            return json_response({"active": False})
        return json_response({"active": True, "scope": "read_content insert_content update_content", "iat": 0})

    routes = [
        *oauth_routes(store, "notion"),
        Route("/v1/oauth/revoke", revoke, methods=["POST"]),
        Route("/v1/oauth/introspect", introspect, methods=["POST"]),
        Route("/v1/users/me", users_me, methods=["GET"]),
        Route("/v1/search", search, methods=["POST"]),
        Route("/v1/pages", create_page, methods=["POST"]),
        Route("/v1/pages/{page_id}", get_page, methods=["GET"]),
        Route("/v1/databases/{database_id}", get_database, methods=["GET"]),
        Route("/v1/databases/{database_id}/query", query_database, methods=["POST"]),
        Route("/v1/data_sources/{data_source_id}", get_data_source, methods=["GET"]),
        Route("/v1/data_sources/{data_source_id}/query", query_data_source, methods=["POST"]),
        Route("/v1/blocks/{block_id}/children", block_children, methods=["GET"]),
    ]
    return provider_app(store, "notion", routes, error, {"/v1/oauth/authorize"})


def _roadmap_title(notion: NotionWorld, number: int) -> str:
    return str(notion.roadmap_page(number)["title"])


def _roadmap_status(notion: NotionWorld, number: int) -> str:
    return str(notion.roadmap_page(number)["status"])


def _schema(notion: NotionWorld, data_source_id: str) -> dict[str, Any]:
    """A data source's properties: the roadmap's Name/Status/Priority, the ideas' Idea/Votes."""
    if data_source_id != notion.roadmap_source_id:
        return {
            "Idea": {"id": "title", "name": "Idea", "type": "title", "description": None, "title": {}},
            "Votes": {
                "id": "vote",
                "name": "Votes",
                "type": "number",
                "description": None,
                "number": {"format": "number"},
            },
        }
    return {
        "Name": {"id": "title", "name": "Name", "type": "title", "description": None, "title": {}},
        "Status": {
            "id": "%5Esta",
            "name": "Status",
            "type": "status",
            "description": None,
            "status": {
                "options": [
                    {"id": stable_uuid("status", name), "name": name, "color": color, "description": None}
                    for name, color in _STATUS_COLORS.items()
                ],
                "groups": [],
            },
        },
        "Priority": {
            "id": "prio",
            "name": "Priority",
            "type": "select",
            "description": None,
            "select": {
                "options": [
                    {"id": stable_uuid("prio", name), "name": name, "color": "orange", "description": None}
                    for name in ("High", "Medium", "Low")
                ]
            },
        },
    }


def _page_properties(notion: NotionWorld, data_source_id: str, page: dict[str, Any]) -> dict[str, Any]:
    """A data source page's property values, in its data source's schema."""
    title = {"id": "title", "type": "title", "title": rich_text(page["title"])}
    if data_source_id != notion.roadmap_source_id:
        return {"Idea": title, "Votes": {"id": "vote", "type": "number", "number": page.get("votes")}}
    status = page.get("status", NOTION_STATUSES[0])
    priority = page.get("priority")
    return {
        "Name": title,
        "Status": {
            "id": "%5Esta",
            "type": "status",
            "status": {
                "id": stable_uuid("status", status),
                "name": status,
                "color": _STATUS_COLORS.get(status, "default"),
            },
        },
        "Priority": {
            "id": "prio",
            "type": "select",
            "select": {"id": stable_uuid("prio", priority), "name": priority, "color": "orange"} if priority else None,
        },
    }


def _client_ok(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return client_id == client_id_for("notion") and constant_time_equals(secret, client_secret_for("notion"))


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise _invalid("Error parsing JSON body.") from None
    if not isinstance(body, dict):
        raise _invalid("body failed validation: body should be an object.")
    return body


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _invalid(f"query failed validation: page_size should be a number, instead was `{value}`.") from None


def _title(prop: Any) -> str:
    title = prop.get("title") if isinstance(prop, dict) else prop if isinstance(prop, list) else None
    if not isinstance(title, list) or not title:
        raise _invalid(
            "body failed validation: body.properties.title.title should be defined, instead was `undefined`."
        )
    text = ""
    for part in title:
        content = (part.get("text") or {}).get("content") if isinstance(part, dict) else None
        if not isinstance(content, str):
            raise _invalid("body failed validation: body.properties.title.title[0].text.content should be a string.")
        if len(content) > 2000:
            raise _invalid(
                "body failed validation: body.properties.title.title[0].text.content.length should be ≤ `2000`."
            )
        text += content
    return text


# What a block type holds besides its text, as Notion's block objects have it (a code block has no color).
_BLOCK_CONTENT: dict[str, dict[str, Any]] = {
    "paragraph": {"color": "default", "icon": None},
    "heading_1": {"color": "default", "is_toggleable": False},
    "heading_2": {"color": "default", "is_toggleable": False},
    "heading_3": {"color": "default", "is_toggleable": False},
    "to_do": {"color": "default", "checked": False},
    "code": {"caption": [], "language": "plain text"},
    "callout": {"color": "default", "icon": None},
}


def _block_content(kind: str, text: str) -> dict[str, Any]:
    return {"rich_text": rich_text(text), **_BLOCK_CONTENT.get(kind, {"color": "default"})}


def _block(child: Any, index: int) -> tuple[str, str, tuple[Any, ...]]:
    if not isinstance(child, dict):
        raise _invalid(f"body failed validation: body.children[{index}] should be an object.")
    kind = child.get("type") or next((key for key in child if key in _BLOCK_TYPES), None)
    if kind not in _BLOCK_TYPES or not isinstance(child.get(kind), dict):
        raise _invalid(f"body failed validation: body.children[{index}] should have a supported block type.")
    parts = child[kind].get("rich_text") or []
    text = "".join(str((part.get("text") or {}).get("content", "")) for part in parts if isinstance(part, dict))
    if len(text) > 2000:
        raise _invalid(
            f"body failed validation: body.children[{index}].{kind}.rich_text[0].text.content.length "
            "should be ≤ `2000`."
        )
    return kind, text, ()


def _matches(filter_: Any, edited: float, status: Callable[[], Any]) -> bool:
    """Whether a page (its last edit, and its status when asked) passes a data source query filter."""
    if not filter_:
        return True
    if not isinstance(filter_, dict):
        raise _invalid("body failed validation: body.filter should be an object.")
    if "and" in filter_:
        return all(_matches(part, edited, status) for part in filter_["and"])
    if "or" in filter_:
        return any(_matches(part, edited, status) for part in filter_["or"])
    if filter_.get("timestamp") == "last_edited_time":
        condition = filter_.get("last_edited_time") or {}
        for operator, value in condition.items():
            moment = parse_iso(str(value))
            if moment is None:
                raise _invalid(f"body failed validation: last_edited_time.{operator} should be a valid ISO 8601 date.")
            checks = {
                "on_or_after": edited >= moment,
                "after": edited > moment,
                "before": edited < moment,
                "on_or_before": edited <= moment,
                "equals": edited == moment,
            }
            if operator not in checks:
                raise _invalid(f"body failed validation: unknown last_edited_time condition {operator}.")
            if not checks[operator]:
                return False
        return True
    if filter_.get("property") == "Status":
        condition = filter_.get("status") or filter_.get("select") or {}
        if "equals" in condition:
            return bool(status() == condition["equals"])
        if "does_not_equal" in condition:
            return bool(status() != condition["does_not_equal"])
        return True
    raise _invalid("body failed validation: the filter is not supported by this data source.")
