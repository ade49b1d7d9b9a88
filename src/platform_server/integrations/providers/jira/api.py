"""How the shared client talks to this provider's API: pagination (each helper yields one page, a list, at a
time, so callers stream instead of loading all)."""

from collections.abc import AsyncIterator, Mapping
from typing import Any

from platform_server.integrations.providers.client import ProviderClient


async def jira_search_pages(client: ProviderClient, path: str, body: Mapping[str, Any]) -> AsyncIterator[list[Any]]:
    """Jira enhanced search (`POST …/search/jql`): `nextPageToken` until it is absent or `isLast`."""
    request = dict(body)
    while True:
        response = await client.post(path, json=request, idempotent=True)
        data = response.data or {}
        yield list(data.get("issues") or [])
        token = data.get("nextPageToken")
        if not token or data.get("isLast"):
            return
        request["nextPageToken"] = token


async def jira_offset_pages(
    client: ProviderClient, path: str, params: Mapping[str, Any] | None = None, page_size: int = 50
) -> AsyncIterator[list[Any]]:
    """Jira offset pagination (`startAt`/`maxResults` → `values`, `isLast`)."""
    start = 0
    while True:
        response = await client.get(path, params={**(params or {}), "startAt": start, "maxResults": page_size})
        data = response.data or {}
        values = list(data.get("values") or [])
        yield values
        start += len(values)
        total = data.get("total")
        if data.get("isLast", True) or not values or (total is not None and start >= total):
            return
