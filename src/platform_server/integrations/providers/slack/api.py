"""Slack's Web API as the shared client sees it: hosts, `ok: false` errors, rate limits and cursor pagination."""

from collections.abc import AsyncIterator, Mapping
from typing import Any

from platform_server.integrations.providers.client import (
    ApiPolicy,
    Failed,
    ProviderBadRequest,
    ProviderClient,
    ProviderForbidden,
    ProviderNotFound,
    ProviderResponse,
    RateLimited,
    Unauthorized,
    Verdict,
)

_SLACK_AUTH_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "token_expired",
        "token_revoked",
        "account_inactive",
        "no_permission_token",
    }
)
_SLACK_NOT_FOUND = frozenset({"channel_not_found", "user_not_found", "message_not_found", "file_not_found"})
_SLACK_FORBIDDEN = frozenset(
    {
        "not_in_channel",
        "missing_scope",
        "not_allowed_token_type",
        "restricted_action",
        "is_archived",
        "access_denied",
    }
)


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


class SlackApi(ApiPolicy):
    name = "slack"
    title = "Slack"
    hosts = {"web": "https://slack.com", "api": "https://slack.com"}

    def classify_body(self, response: ProviderResponse, attempt: int) -> Verdict | None:
        # Slack reports most failures as HTTP 200 with `ok: false`.
        data = response.data
        if isinstance(data, dict) and data.get("ok") is False and response.status_code < 400:
            return self._classify_slack(response, str(data.get("error", "unknown_error")), attempt)
        return None

    def _classify_slack(self, response: ProviderResponse, error: str, attempt: int) -> Verdict:
        if error in _SLACK_AUTH_ERRORS:
            return Unauthorized()
        if error == "ratelimited":
            return RateLimited(self.rate_limit_wait(response, attempt))
        if error in _SLACK_NOT_FOUND:
            return Failed(ProviderNotFound("slack", f"Slack could not find it ({error}); check the channel id"))
        if error in _SLACK_FORBIDDEN:
            needed = response.data.get("needed") if isinstance(response.data, dict) else None
            hint = {
                "not_in_channel": "invite the Slack app to the channel first",
                "missing_scope": f"reconnect Slack granting the scope {needed}" if needed else "reconnect Slack",
                "not_allowed_token_type": "this method needs a user token; reconnect Slack with user scopes",
            }.get(error, "check the connected account's permissions")
            return Failed(ProviderForbidden("slack", f"Slack refused the request ({error}); {hint}"))
        return Failed(ProviderBadRequest("slack", f"Slack rejected the request ({error})"))


API = SlackApi()
