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
from platform_server.integrations.providers.linear.api import API
from platform_server.integrations.providers.linear.exporter import LinearIssueExporter
from platform_server.integrations.providers.linear.importer import LinearIssues
from platform_server.integrations.providers.linear.tools import TOOLS, parse_team_key

_VIEWER_QUERY = "query Viewer { viewer { id name email } organization { id name urlKey } }"


class Linear(Provider):
    api = API
    category = Category.project_management
    oauth = OAuthConfig(
        authorize_url="https://linear.app/oauth/authorize",
        token_url="https://api.linear.app/oauth/token",  # noqa: S106 - a URL, not a secret
        default_scopes=("read", "write"),
        scope_separator=",",
        pkce=True,
        rotating_refresh=True,
    )
    tools = TOOLS
    importers = (LinearIssues(),)
    exporters = (LinearIssueExporter(),)
    project_hint = "a team key, e.g. ENG"
    parse_project = staticmethod(parse_team_key)
    revocable = True

    async def whoami(self, http: httpx.AsyncClient, token: str) -> Account:
        response = await http.post(
            self.api_url("/graphql"),
            json={"query": _VIEWER_QUERY},
            headers=self.bearer_headers(token),
            timeout=self.timeout,
        )
        body = ensure_success(response, "Linear viewer query")
        if body.get("errors") or not body.get("data"):
            raise ProviderResponseError("Linear viewer query answered GraphQL errors")
        viewer, organization = body["data"]["viewer"], body["data"].get("organization") or {}
        return Account(
            id=str(viewer["id"]),
            name=str(organization.get("name") or viewer.get("name") or viewer["id"]),
            metadata={"organizationId": organization.get("id"), "urlKey": organization.get("urlKey")},
        )

    async def revoke(self, http: httpx.AsyncClient, token: str, credentials: ClientCredentials) -> None:
        response = await http.post(
            self.url("https://api.linear.app/oauth/revoke"), headers=self.bearer_headers(token), timeout=self.timeout
        )
        if response.status_code not in (200, 400, 401):
            raise ProviderResponseError(f"Linear token revocation answered HTTP {response.status_code}")
