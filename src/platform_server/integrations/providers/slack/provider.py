from collections.abc import Mapping
from typing import Any

import httpx

from platform_server.integrations.providers.base import (
    Account,
    Category,
    ClientCredentials,
    OAuthConfig,
    Provider,
    ProviderResponseError,
    ensure_success,
)
from platform_server.integrations.providers.slack.api import API
from platform_server.integrations.providers.slack.tools import TOOLS, parse_channel


class Slack(Provider):
    api = API
    category = Category.communication
    oauth = OAuthConfig(
        authorize_url="https://slack.com/oauth/v2/authorize",
        token_url="https://slack.com/api/oauth.v2.access",  # noqa: S106 - a URL, not a secret
        default_scopes=("channels:read", "groups:read", "chat:write", "search:read"),
        scope_separator=",",
        # search.messages accepts only a user token, so that scope is requested for the user.
        user_scope_param="user_scope",
        user_scope_names=frozenset({"search:read"}),
        rotating_refresh=True,
    )
    tools = TOOLS
    project_hint = "a channel id or #name"
    parse_project = staticmethod(parse_channel)
    revocable = True

    def token_metadata(self, token_response: Mapping[str, Any]) -> dict[str, Any]:
        team = token_response.get("team") or {}
        authed_user = token_response.get("authed_user") or {}
        return {
            "teamId": team.get("id"),
            "teamName": team.get("name"),
            "botUserId": token_response.get("bot_user_id"),
            "authedUserId": authed_user.get("id"),
        }

    def user_grant(self, token_response: Mapping[str, Any]) -> Mapping[str, Any] | None:
        authed_user = token_response.get("authed_user") or {}
        return authed_user if authed_user.get("access_token") else None

    async def whoami(self, http: httpx.AsyncClient, token: str) -> Account:
        response = await http.post(
            self.api_url("/api/auth.test"), headers=self.bearer_headers(token), timeout=self.timeout
        )
        body = ensure_success(response, "Slack auth.test")
        # Slack reports failures as HTTP 200 with ok:false.
        if not body.get("ok"):
            raise ProviderResponseError(f"Slack auth.test failed: {body.get('error', 'unknown_error')}")
        return Account(
            id=f"{body['team_id']}:{body['user_id']}",
            name=str(body.get("team") or body["team_id"]),
            metadata={"teamId": body["team_id"], "url": body.get("url")},
        )

    async def revoke(self, http: httpx.AsyncClient, token: str, credentials: ClientCredentials) -> None:
        response = await http.post(
            self.api_url("/api/auth.revoke"), headers=self.bearer_headers(token), timeout=self.timeout
        )
        body = ensure_success(response, "Slack auth.revoke")
        if not body.get("ok") and body.get("error") not in ("invalid_auth", "token_revoked"):
            raise ProviderResponseError(f"Slack auth.revoke failed: {body.get('error', 'unknown_error')}")
