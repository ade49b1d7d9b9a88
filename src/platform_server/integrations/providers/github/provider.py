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
from platform_server.integrations.providers.client import provider_path
from platform_server.integrations.providers.github.api import API
from platform_server.integrations.providers.github.exporter import GitHubIssueExporter
from platform_server.integrations.providers.github.importer import GitHubIssues, GitHubPullRequests
from platform_server.integrations.providers.github.tools import TOOLS, parse_repository


class GitHub(Provider):
    api = API
    category = Category.development
    oauth = OAuthConfig(
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",  # noqa: S106 - a URL, not a secret
        default_scopes=("repo", "read:user"),
        pkce=True,
    )
    tools = TOOLS
    importers = (
        GitHubIssues(),
        GitHubPullRequests(),
    )
    exporters = (GitHubIssueExporter(),)
    project_hint = "owner/repo"
    parse_project = staticmethod(parse_repository)
    token_headers = {"Accept": "application/json"}
    revocable = True

    async def whoami(self, http: httpx.AsyncClient, token: str) -> Account:
        response = await http.get(self.api_url("/user"), headers=self.bearer_headers(token), timeout=self.timeout)
        user = ensure_success(response, "GitHub GET /user")
        return Account(id=str(user["id"]), name=str(user["login"]))

    async def revoke(self, http: httpx.AsyncClient, token: str, credentials: ClientCredentials) -> None:
        # Deleting the grant (not just the token) removes the app's authorization for the user.
        response = await http.request(
            "DELETE",
            self.api_url(provider_path(self.name, "applications", credentials.client_id, "grant")),
            json={"access_token": token},
            auth=(credentials.client_id, credentials.client_secret),
            headers=dict(self.api.default_headers),
            timeout=self.timeout,
        )
        if response.status_code not in (204, 404, 422):
            raise ProviderResponseError(f"GitHub grant revocation answered HTTP {response.status_code}")
