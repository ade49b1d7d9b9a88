from typing import Any

import httpx

from platform_server.integrations.providers.base import (
    Account,
    Category,
    OAuthConfig,
    Provider,
    ProviderResponseError,
    ensure_success,
)
from platform_server.integrations.providers.client import provider_path
from platform_server.integrations.providers.jira.api import API
from platform_server.integrations.providers.jira.exporter import JiraIssueExporter
from platform_server.integrations.providers.jira.importer import JiraIssues
from platform_server.integrations.providers.jira.tools import TOOLS, parse_project_key


class Jira(Provider):
    api = API
    category = Category.project_management
    oauth = OAuthConfig(
        authorize_url="https://auth.atlassian.com/authorize",
        token_url="https://auth.atlassian.com/oauth/token",  # noqa: S106 - a URL, not a secret
        # offline_access is what makes Atlassian issue a refresh token at all.
        default_scopes=("read:jira-work", "write:jira-work", "read:jira-user", "offline_access"),
        extra_authorize_params={"audience": "api.atlassian.com", "prompt": "consent"},
        rotating_refresh=True,
    )
    tools = TOOLS
    importers = (JiraIssues(),)
    exporters = (JiraIssueExporter(),)
    project_hint = "a project key, e.g. PROJ"
    parse_project = staticmethod(parse_project_key)

    async def whoami(self, http: httpx.AsyncClient, token: str) -> Account:
        response = await http.get(
            self.api_url("/oauth/token/accessible-resources"), headers=self.bearer_headers(token), timeout=self.timeout
        )
        sites: list[dict[str, Any]] = ensure_success(response, "Jira accessible-resources")
        if not sites:
            raise ProviderResponseError("The Jira grant gives access to no site")
        # The consent screen lets the user pick a site; with several we keep them all and use the first.
        site = sites[0]
        cloud_id = str(site["id"])
        response = await http.get(
            self.api_url(provider_path(self.name, "ex", "jira", cloud_id, "rest", "api", "3", "myself")),
            headers=self.bearer_headers(token),
            timeout=self.timeout,
        )
        me = ensure_success(response, "Jira GET /rest/api/3/myself")
        return Account(
            id=f"{cloud_id}:{me['accountId']}",
            name=str(site.get("name") or me.get("displayName") or cloud_id),
            metadata={
                "cloudId": cloud_id,
                "siteUrl": site.get("url"),
                "accountId": me["accountId"],
                # JQL reads dates in this zone, so the incremental sync writes its watermark in it.
                "timeZone": me.get("timeZone"),
                "sites": [{"id": s["id"], "name": s.get("name"), "url": s.get("url")} for s in sites],
            },
        )
