"""What an attacker tries against the authorization server, on both databases: each attempt is refused and
changes nothing it should not."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_server.oauth_server.models import OAuthConsent, OAuthToken
from tests.conftest import Member, row_count
from tests.gateway.test_oauth import listing
from tests.oauth_server.helpers import (
    Authorization,
    approve,
    consent_page,
    decide,
    redirect_params,
    register,
    tokens,
)
from tests.web.helpers import sign_in


async def _refresh(client: httpx.AsyncClient, authorization: Authorization, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": authorization.client_id}
    return await tokens(client, form)


async def test_code_reuse_is_refused_and_revokes_what_the_code_gave(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    code = await approve(client, authorization)
    first = await tokens(client, authorization.token_form(code))
    assert first.status_code == 200
    issued = first.json()
    assert (await listing(client, issued["access_token"], owner.workspace_id)).status_code == 200

    replay = await tokens(client, authorization.token_form(code))
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert replay.headers["cache-control"] == "no-store"
    assert (await listing(client, issued["access_token"], owner.workspace_id)).status_code == 401
    assert (await _refresh(client, authorization, issued["refresh_token"])).json()["error"] == "invalid_grant"


async def test_pkce_mismatch_and_wrong_redirect_uri_are_invalid_grant(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    code = await approve(client, authorization)
    response = await tokens(client, authorization.token_form(code, code_verifier="x" * 64))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    # The failed attempt burnt the code: the right verifier no longer helps.
    assert (await tokens(client, authorization.token_form(code))).json()["error"] == "invalid_grant"

    code = await approve(client, authorization)
    response = await tokens(client, authorization.token_form(code, redirect_uri="http://127.0.0.1:1/other"))
    assert response.json()["error"] == "invalid_grant"

    code = await approve(client, authorization)
    other_client = await register(client)
    response = await tokens(client, authorization.token_form(code, client_id=other_client))
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"resource": None}, "invalid_target"),
        ({"resource": "https://evil.example/api/workspaces/1/mcp"}, "invalid_target"),
        ({"scope": "admin"}, "invalid_scope"),
    ],
)
async def test_bad_authorization_requests_go_back_to_the_client_as_errors(
    client: httpx.AsyncClient, owner: Member, overrides: dict[str, str | None], error: str
) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    params = redirect_params(await consent_page(client, authorization, **overrides))
    assert params["error"] == error
    assert params["state"] == authorization.state
    assert "code" not in params


async def test_unregistered_redirect_uri_is_never_redirected_to(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    for redirect_uri in (
        "https://attacker.example/callback",
        "http://127.0.0.1:33418/other",
        "http://evil/callback",
        "http://127.0.0.1:1;script-src/callback",
        "http://evil@127.0.0.1:1/callback",
    ):
        response = await consent_page(client, authorization, redirect_uri=redirect_uri)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "did not register" in response.text
    unknown = await consent_page(client, authorization, client_id="mcp_unknown")
    assert unknown.status_code == 400
    # A loopback redirect may come back on another port (RFC 8252).
    moved = Authorization(authorization.client_id, owner.workspace_id, redirect_uri="http://127.0.0.1:50999/callback")
    assert (await consent_page(client, moved)).status_code == 200


async def test_denied_consent_issues_nothing(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    params = redirect_params(await decide(client, await consent_page(client, authorization), "deny"))
    assert params["error"] == "access_denied"
    assert params["state"] == authorization.state
    assert "code" not in params
    assert await row_count(app, OAuthConsent) == 0


async def test_consent_is_remembered_per_client_and_workspace(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id, scope="tools:read")
    await approve(client, authorization)
    again = await consent_page(client, authorization)
    assert again.status_code == 303
    assert "code=" in again.headers["location"]
    # Asking for more than was approved asks the person again.
    wider = Authorization(authorization.client_id, owner.workspace_id, scope="tools:read tools:write")
    assert (await consent_page(client, wider)).status_code == 200
    another_client = Authorization(await register(client), owner.workspace_id, scope="tools:read")
    assert (await consent_page(client, another_client)).status_code == 200


async def test_consent_form_needs_the_session_csrf_token(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    page = await consent_page(client, authorization)
    forged = await client.post(
        "/settings/oauth/authorize", data={**authorization.query(), "decision": "approve", "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert "location" not in forged.headers
    assert page.status_code == 200


async def test_another_teams_workspace_cannot_be_authorized(
    client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), other_team.workspace_id)
    response = await consent_page(client, authorization)
    assert response.status_code == 400
    assert "does not exist in your team" in response.text


async def test_refresh_reuse_after_rotation_revokes_the_family(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    first = (await tokens(client, authorization.token_form(await approve(client, authorization)))).json()
    rotated = await _refresh(client, authorization, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert (await listing(client, second["access_token"], owner.workspace_id)).status_code == 200

    replay = await _refresh(client, authorization, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert (await listing(client, second["access_token"], owner.workspace_id)).status_code == 401
    assert (await _refresh(client, authorization, second["refresh_token"])).json()["error"] == "invalid_grant"
    async with app.state.sessionmaker() as session:
        live = await session.scalars(select(OAuthToken).where(OAuthToken.revoked_at.is_(None)))
        assert list(live) == []


async def test_refresh_cannot_widen_scope_or_change_resource(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id, scope="tools:read")
    issued = (await tokens(client, authorization.token_form(await approve(client, authorization)))).json()
    form = {
        "grant_type": "refresh_token",
        "refresh_token": issued["refresh_token"],
        "client_id": authorization.client_id,
    }
    assert (await tokens(client, {**form, "scope": "tools:write"})).json()["error"] == "invalid_scope"
    other = {**form, "resource": "http://testserver/api/workspaces/1/mcp"}
    assert (await tokens(client, other)).json()["error"] == "invalid_target"
    # A refused refresh does not use the token up.
    assert (await tokens(client, form)).status_code == 200


async def test_concurrent_exchanges_of_one_code_issue_tokens_once(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    code = await approve(client, authorization)
    answers = await asyncio.gather(*(tokens(client, authorization.token_form(code)) for _ in range(4)))
    assert sorted(answer.status_code for answer in answers) == [200, 400, 400, 400]


async def test_redirect_uri_may_be_left_out_of_the_token_request(client: httpx.AsyncClient, owner: Member) -> None:
    await sign_in(client, owner)
    authorization = Authorization(await register(client), owner.workspace_id)
    code = await approve(client, authorization)
    # OAuth 2.1: PKCE binds the code to the client that asked, so the redirect URI need not be sent again.
    assert (await tokens(client, authorization.token_form(code, redirect_uri=None))).status_code == 200


async def test_token_endpoint_refuses_malformed_requests(client: httpx.AsyncClient) -> None:
    response = await client.post("/oauth/token", json={"grant_type": "authorization_code"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    response = await tokens(client, {"grant_type": "password", "username": "a", "password": "b"})
    assert response.json()["error"] == "unsupported_grant_type"
    response = await client.post(
        "/oauth/token",
        content="grant_type=a&grant_type=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["error"] == "invalid_request"


async def test_revocation_of_an_unknown_token_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.post("/oauth/revoke", data={"token": "pmrt_unknown", "client_id": "mcp_x"})
    assert response.status_code == 200
