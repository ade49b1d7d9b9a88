"""Jira Cloud's REST API as the shared client sees it: hosts, errors, rate limits and its two paginations."""

import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from platform_server.integrations.providers.client import ApiPolicy, ProviderClient, seconds_until_epoch


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


class JiraApi(ApiPolicy):
    name = "jira"
    title = "Jira"
    hosts = {"web": "https://auth.atlassian.com", "api": "https://api.atlassian.com"}

    def reset_after(self, headers: httpx.Headers, now: float | None = None) -> float | None:
        now = now if now is not None else time.time()
        value = headers.get("x-ratelimit-reset")
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            # Some write-ups describe an epoch value; accept both.
            return seconds_until_epoch(value, now, scale=1.0)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, moment.timestamp() - now)

    def error_message(self, data: Any) -> str | None:
        if not isinstance(data, dict):
            return None
        parts = [str(message) for message in data.get("errorMessages") or []]
        parts += [f"{name}: {message}" for name, message in (data.get("errors") or {}).items()]
        return "; ".join(parts) or None


API = JiraApi()
