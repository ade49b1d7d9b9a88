"""How the shared client talks to this provider's API: pagination (each helper yields one page, a list, at a
time, so callers stream instead of loading all)."""

from collections.abc import AsyncIterator, Mapping
from typing import Any

from platform_server.integrations.providers.client import ProviderClient


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
