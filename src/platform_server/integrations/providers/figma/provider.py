from collections.abc import Mapping
from typing import Any

import httpx

from platform_server.integrations.providers.base import Account, Category, OAuthConfig, Provider, ensure_success
from platform_server.integrations.providers.figma.api import API
from platform_server.integrations.providers.figma.tools import TOOLS, parse_team_id


class Figma(Provider):
    api = API
    category = Category.design
    oauth = OAuthConfig(
        authorize_url="https://www.figma.com/oauth",
        token_url="https://api.figma.com/v1/oauth/token",  # noqa: S106 - a URL, not a secret
        refresh_url="https://api.figma.com/v1/oauth/refresh",
        # Not projects:read: Figma grants it to private (organisation) apps only; figma_list_files says so.
        default_scopes=("current_user:read", "file_content:read", "file_metadata:read"),
        scope_separator=",",
        client_auth="client_secret_basic",
    )
    tools = TOOLS
    project_hint = "a team id, e.g. 1234567890"
    parse_project = staticmethod(parse_team_id)

    def token_error(self, status_code: int, body: Mapping[str, Any]) -> str | None:
        # Figma's older error form, {"error": true, "status": 400, "message": …}: a refused refresh token.
        if body.get("error") is True:
            return "invalid_grant" if status_code == 400 else f"http_{status_code}"
        return None

    async def whoami(self, http: httpx.AsyncClient, token: str) -> Account:
        response = await http.get(self.api_url("/v1/me"), headers=self.bearer_headers(token), timeout=self.timeout)
        me = ensure_success(response, "Figma GET /v1/me")
        return Account(id=str(me["id"]), name=str(me.get("handle") or me.get("email") or me["id"]))
