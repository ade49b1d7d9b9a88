"""How the shared client talks to this provider's API: pagination (each helper yields one page, a list, at a
time, so callers stream instead of loading all)."""

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from platform_server.integrations.providers.client import ProviderClient


async def linear_pages(
    client: ProviderClient,
    query: str,
    variables: Mapping[str, Any],
    connection: Callable[[Any], Mapping[str, Any]],
) -> AsyncIterator[list[Any]]:
    """Relay pagination: re-run `query` with `after: pageInfo.endCursor` while `hasNextPage`.

    `connection` picks the connection object (`{nodes, pageInfo}`) out of the query's data.
    """
    current = dict(variables)
    while True:
        data = await client.graphql(query, current)
        page = connection(data)
        yield list(page.get("nodes") or [])
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage") or not info.get("endCursor"):
            return
        current["after"] = info["endCursor"]
