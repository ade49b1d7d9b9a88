"""Notion's REST API as the shared client sees it: hosts, the version header, rate limits and cursor pagination."""

from collections.abc import AsyncIterator, Mapping
from typing import Any

from platform_server.integrations.providers.client import ApiPolicy, ProviderClient

NOTION_VERSION = "2025-09-03"


async def notion_pages(
    client: ProviderClient, method: str, path: str, body: Mapping[str, Any] | None = None
) -> AsyncIterator[list[Any]]:
    """Notion cursors: `start_cursor` (body for POST, query for GET) from `next_cursor` while `has_more`."""
    payload = dict(body or {})
    while True:
        if method.upper() == "GET":
            response = await client.get(path, params=payload)
        else:
            response = await client.post(path, json=payload, idempotent=True)
        data = response.data or {}
        yield list(data.get("results") or [])
        if not data.get("has_more") or not data.get("next_cursor"):
            return
        payload["start_cursor"] = data["next_cursor"]


class NotionApi(ApiPolicy):
    name = "notion"
    title = "Notion"
    hosts = {"web": "https://api.notion.com", "api": "https://api.notion.com"}
    default_headers = {"Accept": "application/json", "Notion-Version": NOTION_VERSION}
    # 529 is Notion's service_overload: slow down, like a rate limit.
    rate_limit_statuses = frozenset({429, 529})


API = NotionApi()
