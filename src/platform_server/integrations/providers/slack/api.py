"""How the shared client talks to this provider's API: pagination (each helper yields one page, a list, at a
time, so callers stream instead of loading all)."""

from collections.abc import AsyncIterator, Mapping
from typing import Any

from platform_server.integrations.providers.client import ProviderClient


async def slack_pages(
    client: ProviderClient, method: str, params: Mapping[str, Any], key: str
) -> AsyncIterator[list[Any]]:
    """Slack cursors: `cursor` from `response_metadata.next_cursor` until it is empty."""
    current = dict(params)
    while True:
        response = await client.get(f"/api/{method}", params=current)
        data = response.data or {}
        yield list(data.get(key) or [])
        cursor = (data.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return
        current["cursor"] = cursor
