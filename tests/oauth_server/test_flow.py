"""The authorization server over HTTP on both databases: metadata, registration, consent, tokens."""

import httpx

from tests.conftest import Member
from tests.oauth_server.helpers import (
    Authorization,
    connect,
    consent_page,
    decide,
    redirect_params,
    register,
    tokens,
)
from tests.web.helpers import sign_in


async def test_metadata_names_every_endpoint_and_pkce_s256_only(client: httpx.AsyncClient) -> None:
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        response = await client.get(path)
        assert response.status_code == 200
        metadata = response.json()
        assert metadata["issuer"] == "http://testserver"
        assert metadata["authorization_endpoint"] == "http://testserver/settings/oauth/authorize"
        assert metadata["token_endpoint"] == "http://testserver/oauth/token"
        assert metadata["registration_endpoint"] == "http://testserver/oauth/register"
        assert metadata["revocation_endpoint"] == "http://testserver/oauth/revoke"
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert metadata["client_id_metadata_document_supported"] is True


async def test_full_flow_issues_rotating_tokens(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization, issued = await connect(client, owner)
    assert issued["token_type"] == "Bearer"
    assert issued["scope"] == "tools:read tools:write"
    assert issued["access_token"].startswith("pmat_")
    refreshed = await tokens(
        client,
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": authorization.client_id},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != issued["refresh_token"]


async def test_the_person_may_grant_read_only_access(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    page = await consent_page(client, authorization)
    assert 'name="access" value="read"' in page.text
    params = redirect_params(await decide(client, page, access="read"))
    issued = await tokens(client, authorization.token_form(params["code"]))
    assert issued.json()["scope"] == "tools:read"
    # Asked again for all tools, the person is asked again: the consent covers read-only tools only.
    assert (await consent_page(client, authorization)).status_code == 200
