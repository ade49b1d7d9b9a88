"""The OAuth protocol endpoints are outside the OpenAPI document, so the OpenAPI-driven hostile-input sweep
does not reach them: text no column can store, very long text and huge integers get a 4xx and store nothing."""

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from platform_server.oauth_server.models import OAuthAuthorizationCode, OAuthClient, OAuthConsent, OAuthToken
from tests.conftest import Member, row_count
from tests.gateway.test_oauth import listing
from tests.oauth_server.helpers import REDIRECT_URI, connect
from tests.web.helpers import sign_in

HOSTILE_VALUES: tuple[Any, ...] = ("a\x00b", "x\ud800", "x" * 10_000, 10**20, -(10**20), 2**63)
TABLES = (OAuthClient, OAuthConsent, OAuthAuthorizationCode, OAuthToken)


async def _counts(app: Any) -> list[int]:
    return [await row_count(app, table) for table in TABLES]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=repr)
@pytest.mark.parametrize("field", ["client_name", "redirect_uris", "client_uri", "scope"])
async def test_hostile_registration_is_refused_and_stores_nothing(
    app: Any, client: httpx.AsyncClient, field: str, value: Any
) -> None:
    before = await _counts(app)
    metadata: dict[str, Any] = {"client_name": "Agent", "redirect_uris": [REDIRECT_URI]}
    metadata[field] = [value] if field == "redirect_uris" else value
    response = await client.post(
        "/oauth/register", content=json.dumps(metadata).encode(), headers={"Content-Type": "application/json"}
    )
    if field == "scope" and response.status_code == 201:
        # Scopes it does not offer are the server's to drop (RFC 7591 §2): the registration gets the default.
        assert response.json()["scope"] == "tools:read tools:write"
        return
    assert 400 <= response.status_code < 500, response.text
    assert await _counts(app) == before


@pytest.mark.parametrize("value", ["a\x00b", "x\ud800", "x" * 10_000, str(10**20), "-99999999999999999999"])
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/oauth/token", "code"),
        ("/oauth/token", "refresh_token"),
        ("/oauth/token", "client_id"),
        ("/oauth/token", "code_verifier"),
        ("/oauth/token", "resource"),
        ("/oauth/revoke", "token"),
    ],
)
async def test_hostile_token_and_revocation_forms_are_refused_and_change_nothing(
    app: Any, client: httpx.AsyncClient, owner: Member, path: str, field: str, value: str
) -> None:
    await sign_in(client, owner)
    authorization, issued = await connect(client, owner)
    before = await _counts(app)
    form = {
        "grant_type": "refresh_token" if field == "refresh_token" else "authorization_code",
        "client_id": authorization.client_id,
        "refresh_token": issued["refresh_token"],
        "token": issued["access_token"],
        field: value,
    }
    # Encoded by hand: httpx cannot encode a lone surrogate, which a client sends as its (invalid) UTF-8 bytes.
    body = "&".join(f"{name}={quote(text.encode('utf-8', 'surrogatepass'), safe='')}" for name, text in form.items())
    response = await client.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    # RFC 7009 §2.2: revocation may answer 200 for a token it does not know; the token endpoint refuses.
    refused = 400 <= response.status_code < 500
    assert refused or (path == "/oauth/revoke" and response.status_code == 200), response.text
    assert await _counts(app) == before
    # The grant still works: nothing was revoked or rotated by the refused request.
    listed = await listing(client, issued["access_token"], authorization.workspace_id)
    assert listed.status_code == 200, listed.text
