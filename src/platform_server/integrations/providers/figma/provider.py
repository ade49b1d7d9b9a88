import httpx

from platform_server.integrations.providers.base import Account, Category, OAuthConfig, Provider, ensure_success
from platform_server.integrations.providers.figma.tools import TOOLS, parse_team_id


class Figma(Provider):
    name = "figma"
    display_name = "Figma"
    category = Category.design
    oauth = OAuthConfig(
        authorize_url="https://www.figma.com/oauth",
        token_url="https://api.figma.com/v1/oauth/token",  # noqa: S106 - a URL, not a secret
        refresh_url="https://api.figma.com/v1/oauth/refresh",
        default_scopes=("current_user:read", "file_content:read", "file_metadata:read", "projects:read"),
        scope_separator=",",
        client_auth="client_secret_basic",
    )
    tools = TOOLS
    project_hint = "a team id, e.g. 1234567890"
    parse_project = staticmethod(parse_team_id)
    api_base_url = "https://api.figma.com"

    async def whoami(self, http: httpx.AsyncClient, token: str) -> Account:
        response = await http.get(self.api_url("/v1/me"), headers=self.bearer_headers(token), timeout=self.timeout)
        me = ensure_success(response, "Figma GET /v1/me")
        return Account(id=str(me["id"]), name=str(me.get("handle") or me.get("email") or me["id"]))
