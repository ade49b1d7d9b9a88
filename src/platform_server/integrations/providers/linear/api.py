"""Linear's GraphQL API as the shared client sees it: hosts, GraphQL errors, rate limits and Relay pagination."""

import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

from platform_server.integrations.providers.client import (
    ApiPolicy,
    Failed,
    ProviderBadRequest,
    ProviderClient,
    ProviderForbidden,
    ProviderNotFound,
    ProviderResponse,
    RateLimited,
    Transient,
    Unauthorized,
    Verdict,
    seconds_until_epoch,
)


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


class LinearApi(ApiPolicy):
    name = "linear"
    title = "Linear"
    hosts = {"web": "https://linear.app", "api": "https://api.linear.app"}

    def classify_body(self, response: ProviderResponse, attempt: int) -> Verdict | None:
        # GraphQL reports failures in the body, often with HTTP 200 or 400.
        data = response.data
        if isinstance(data, dict) and data.get("errors"):
            return self._classify_graphql(response, data["errors"], attempt)
        return None

    def reset_after(self, headers: httpx.Headers, now: float | None = None) -> float | None:
        now = now if now is not None else time.time()
        for name in ("x-ratelimit-requests-reset", "x-ratelimit-complexity-reset"):
            seconds = seconds_until_epoch(headers.get(name), now, scale=1000.0)
            if seconds is not None:
                return seconds
        return None

    def _classify_graphql(self, response: ProviderResponse, errors: list[Any], attempt: int) -> Verdict:
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        extensions = first.get("extensions") or {}
        kind = str(extensions.get("type") or extensions.get("code") or "").lower()
        message = str(extensions.get("userPresentableMessage") or first.get("message") or "GraphQL error")
        if kind == "ratelimited" or response.status_code == 429:
            return RateLimited(self.rate_limit_wait(response, attempt))
        if kind in ("authentication error", "authentication_error") or response.status_code == 401:
            return Unauthorized()
        if kind in ("forbidden", "forbidden error"):
            return Failed(ProviderForbidden(self.name, f"{self.title} refused access: {message}"))
        if response.status_code >= 500 or kind == "internal error":
            return Transient()
        if "not found" in message.lower() or kind == "entity not found":
            return Failed(ProviderNotFound(self.name, f"{self.title}: {message}; check the identifiers"))
        return Failed(ProviderBadRequest(self.name, f"{self.title} rejected the request: {message}"))


API = LinearApi()
