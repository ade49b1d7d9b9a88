"""GitHub's REST API as the shared client sees it: hosts, headers, errors, rate limits and `Link` pagination."""

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from platform_server.integrations.providers.client import (
    ApiPolicy,
    ProviderClient,
    ProviderResponse,
    parse_retry_after,
    seconds_until_epoch,
)


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


# A secondary limit that names no wait: GitHub says to wait at least a minute, then back off exponentially.
SECONDARY_LIMIT_WAIT_SECONDS = 60.0
_SECONDARY_LIMIT_WORDS = ("secondary rate limit", "abuse detection")


class GitHubApi(ApiPolicy):
    name = "github"
    title = "GitHub"
    hosts = {"web": "https://github.com", "api": "https://api.github.com"}
    default_headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

    def is_rate_limited(self, response: ProviderResponse) -> bool:
        """Both limits answer 403 or 429: the primary one with no requests left, a secondary one with a message
        and perhaps a Retry-After. Any other 403 is a permission problem."""
        if response.status_code not in (403, 429):
            return super().is_rate_limited(response)
        headers = response.headers
        return (
            response.status_code == 429
            or headers.get("x-ratelimit-remaining") == "0"
            or "retry-after" in headers
            or _secondary_limit_message(response.data)
        )

    def rate_limit_wait(self, response: ProviderResponse, attempt: int) -> float | None:
        headers = response.headers
        after = parse_retry_after(headers.get("retry-after"))
        if after is not None:
            return after
        if headers.get("x-ratelimit-remaining") == "0":
            reset = self.reset_after(headers)
            if reset is not None:
                return reset
        return SECONDARY_LIMIT_WAIT_SECONDS * float(2 ** (attempt - 1))

    def reset_after(self, headers: httpx.Headers, now: float | None = None) -> float | None:
        return seconds_until_epoch(headers.get("x-ratelimit-reset"), time.time() if now is None else now, scale=1.0)

    def error_message(self, data: Any) -> str | None:
        if not isinstance(data, dict):
            return None
        message = str(data.get("message") or "")
        details = [
            str(error.get("message") or " ".join(str(error[key]) for key in ("field", "code") if error.get(key)))
            for error in data.get("errors") or []
            if isinstance(error, dict)
        ]
        return "; ".join(filter(None, [message, *details])) or None


def _secondary_limit_message(data: Any) -> bool:
    message = str(data.get("message") or "").lower() if isinstance(data, dict) else ""
    return any(words in message for words in _SECONDARY_LIMIT_WORDS)


API = GitHubApi()
