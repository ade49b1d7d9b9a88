from typing import Any

import httpx
import pytest

from platform_server.integrations.models import Integration
from tests.conftest import Member, row_count


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "PLATFORM_SANDBOX": False,
        "GITHUB_CLIENT_ID": "gh-id",
        "JIRA_CLIENT_ID": "jira-id",
        "JIRA_CLIENT_SECRET": "jira-secret",
    }


async def test_missing_credentials_name_the_setting(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    response = await client.post("/api/integrations", json={"provider": "github"}, headers=owner.headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "GITHUB_CLIENT_SECRET" in error["message"]
    assert error["details"]["missingSettings"] == ["GITHUB_CLIENT_SECRET"]
    response = await client.post("/api/integrations", json={"provider": "linear"}, headers=owner.headers)
    assert response.json()["error"]["details"]["missingSettings"] == ["LINEAR_CLIENT_ID", "LINEAR_CLIENT_SECRET"]
    assert await row_count(app, Integration) == 0


async def test_configured_provider_uses_the_real_authorize_url(client: httpx.AsyncClient, owner: Member) -> None:
    response = await client.post("/api/integrations", json={"provider": "jira"}, headers=owner.headers)
    assert response.status_code == 201
    oauth_url = response.json()["oauthUrl"]
    assert oauth_url.startswith("https://auth.atlassian.com/authorize?")
    assert "client_id=jira-id" in oauth_url
    assert "redirect_uri=http%3A%2F%2Ftestserver%2Fapi%2Fintegrations%2Foauth%2Fcallback" in oauth_url


async def test_catalog_reports_configuration(client: httpx.AsyncClient, owner: Member) -> None:
    body = (await client.get("/api/integrations/providers", headers=owner.headers)).json()
    by_name = {entry["provider"]: entry for entry in body["providers"]}
    assert by_name["jira"]["configured"] is True
    assert by_name["github"]["configured"] is False
    assert by_name["github"]["missingSettings"] == ["GITHUB_CLIENT_SECRET"]
