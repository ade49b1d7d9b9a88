"""How the shared client talks to this provider's API: pagination (each helper yields one page, a list, at a
time, so callers stream instead of loading all)."""

from collections.abc import AsyncIterator, Mapping
from typing import Any

from platform_server.integrations.providers.client import ProviderClient


async def github_pages(
    client: ProviderClient, path: str, params: Mapping[str, Any] | None = None
) -> AsyncIterator[list[Any]]:
    """Follow GitHub's `Link: <…>; rel="next"` until there is none."""
    response = await client.get(path, params=params)
    while True:
        yield list(response.data or [])
        next_url = response.next_link()
        if not next_url:
            return
        response = await client.get(next_url)
