"""A 401 marks an integration expired only when the provider's API refused the integration's own token.

The integration's token is attached only to a request the client has checked is under the provider's API
base, so a 401 from anywhere else (this server's own API, reached through `..` in a tool argument, was the
case that expired integrations) cannot happen: such a request is refused before it is sent.
"""

from typing import Any

import httpx
import pytest

from platform_server.integrations.models import Integration, IntegrationStatus
from platform_server.integrations.providers.client import OutsideProviderApi, ProviderBadRequest
from platform_server.integrations.providers.github.tools import TOOLS
from tests.conftest import Member
from tests.integrations.helpers import connect

LIST_REPOS = next(tool for tool in TOOLS if tool.name == "github_list_repos")


async def _connected(app: Any, client: httpx.AsyncClient, owner: Member) -> Integration:
    authorization = await connect(client, owner, "github")
    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/integrations",
        json={"integrationId": authorization.id},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return await _load(app, authorization.id)


async def _load(app: Any, integration_id: str) -> Integration:
    async with app.state.sessionmaker() as session:
        integration = await session.get(Integration, integration_id)
    assert integration is not None
    return integration


async def _call(client: httpx.AsyncClient, owner: Member, arguments: dict[str, Any]) -> httpx.Response:
    return await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_list_repos", json=arguments, headers=owner.headers
    )


@pytest.mark.parametrize("org", ["../../../../api/me#", "../../user/keys#", "%2e%2e", "acme/../.."])
async def test_a_steering_argument_is_refused_and_the_integration_stays_connected(
    app: Any, client: httpx.AsyncClient, owner: Member, org: str
) -> None:
    integration = await _connected(app, client, owner)
    response = await _call(client, owner, {"org": org})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "INVALID_ARGUMENTS"
    assert (await _load(app, integration.id)).status == IntegrationStatus.connected
    assert (await _call(client, owner, {"org": "acme"})).status_code == 200


@pytest.mark.parametrize("url", ["http://testserver/api/me", "/../../api/me", "/orgs/%2e%2e/%2e%2e/%2e%2e/api/me"])
async def test_a_request_outside_the_provider_api_never_carries_the_token(
    app: Any, client: httpx.AsyncClient, owner: Member, url: str
) -> None:
    """Past every schema, straight at the client: refused before sending, so no 401 can come back."""
    integration = await _connected(app, client, owner)
    provider_client = app.state.token_manager.client_for(integration)
    with pytest.raises(OutsideProviderApi):
        await provider_client.get(url)
    with pytest.raises(ProviderBadRequest):
        await LIST_REPOS.execute(provider_client, {"org": "../../../../api/me#"})
    assert (await _load(app, integration.id)).status == IntegrationStatus.connected


async def test_the_provider_refusing_the_token_still_expires_the_integration(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration = await _connected(app, client, owner)
    store = app.state.sandbox
    for record in list(store.access_tokens.values()):
        if record.grant.provider == "github":
            store.revoke_grant(record.grant)
    response = await _call(client, owner, {})
    assert response.json()["error"]["code"] == "INTEGRATION_EXPIRED", response.text
    assert (await _load(app, integration.id)).status == IntegrationStatus.expired
