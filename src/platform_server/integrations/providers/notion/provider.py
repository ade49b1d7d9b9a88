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
from platform_server.integrations.providers.notion.api import API
from platform_server.integrations.providers.notion.importer import NotionPages
from platform_server.integrations.providers.notion.tools import TOOLS, parse_parent


class Notion(Provider):
    api = API
    category = Category.documentation
    oauth = OAuthConfig(
        authorize_url="https://api.notion.com/v1/oauth/authorize",
        token_url="https://api.notion.com/v1/oauth/token",  # noqa: S106 - a URL, not a secret
        # Notion has no scopes: the user picks the pages to share on the consent screen.
        default_scopes=(),
        client_auth="client_secret_basic",
        body_format="json",
        extra_authorize_params={"owner": "user"},
    )
    tools = TOOLS
    importers = (NotionPages(),)
    project_hint = "a database, data source or page id"
    parse_project = staticmethod(parse_parent)
    revocable = True

    def token_metadata(self, token_response: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: token_response[key]
            for key in ("workspace_id", "workspace_name", "bot_id")
            if token_response.get(key) is not None
        }

    async def whoami(self, http: httpx.AsyncClient, token: str) -> Account:
        response = await http.get(
            self.api_url("/v1/users/me"), headers=self.bearer_headers(token), timeout=self.timeout
        )
        bot = ensure_success(response, "Notion GET /v1/users/me")
        workspace_name = (bot.get("bot") or {}).get("workspace_name")
        return Account(id=str(bot["id"]), name=str(workspace_name or bot.get("name") or bot["id"]))

    async def revoke(self, http: httpx.AsyncClient, token: str, credentials: ClientCredentials) -> None:
        response = await http.post(
            self.api_url("/v1/oauth/revoke"),
            json={"token": token},
            auth=(credentials.client_id, credentials.client_secret),
            headers=dict(self.api.default_headers),
            timeout=self.timeout,
        )
        if response.status_code not in (200, 400, 401):
            raise ProviderResponseError(f"Notion token revocation answered HTTP {response.status_code}")
