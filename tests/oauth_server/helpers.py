"""What an MCP client and the person approving it do, with httpx against the app."""

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from platform_server.security import random_token
from tests.conftest import Member
from tests.web.helpers import csrf_token

REDIRECT_URI = "http://127.0.0.1:33418/callback"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def mcp_resource(workspace_id: str) -> str:
    return f"http://testserver/api/workspaces/{workspace_id}/mcp"


async def register(client: httpx.AsyncClient, redirect_uris: list[str] | None = None, name: str = "Test agent") -> str:
    response = await client.post(
        "/oauth/register", json={"client_name": name, "redirect_uris": redirect_uris or [REDIRECT_URI]}
    )
    assert response.status_code == 201, response.text
    client_id: str = response.json()["client_id"]
    return client_id


@dataclass
class Authorization:
    """One authorization request of a client, with its PKCE verifier."""

    client_id: str
    workspace_id: str
    scope: str | None = None
    redirect_uri: str = REDIRECT_URI
    verifier: str = ""
    state: str = ""

    def __post_init__(self) -> None:
        self.verifier = self.verifier or random_token(48)
        self.state = self.state or random_token(8)

    def query(self, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": create_s256_code_challenge(self.verifier),
            "code_challenge_method": "S256",
            "resource": mcp_resource(self.workspace_id),
            "state": self.state,
            "scope": self.scope,
            **overrides,
        }
        return {name: value for name, value in params.items() if value is not None}

    def token_form(self, code: str, **overrides: str | None) -> dict[str, str]:
        form: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
            "resource": mcp_resource(self.workspace_id),
            **overrides,
        }
        return {name: value for name, value in form.items() if value is not None}


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI.split("/callback")[0]) or "://" in location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def consent_page(
    client: httpx.AsyncClient, authorization: Authorization, **overrides: str | None
) -> httpx.Response:
    return await client.get("/settings/oauth/authorize", params=authorization.query(**overrides))


async def decide(
    client: httpx.AsyncClient, page: httpx.Response, decision: str = "approve", **choices: str
) -> httpx.Response:
    assert page.status_code == 200, page.text
    fields = {name: unescape(value) for name, value in _HIDDEN.findall(page.text)}
    fields["csrf_token"] = csrf_token(page.text)
    return await client.post("/settings/oauth/authorize", data={**fields, **choices, "decision": decision})


async def approve(client: httpx.AsyncClient, authorization: Authorization) -> str:
    """Opens the consent page as the signed-in person, approves (unless the consent is remembered), and answers
    the code."""
    page = await consent_page(client, authorization)
    params = redirect_params(page if page.status_code == 303 else await decide(client, page))
    assert params["state"] == authorization.state
    assert params["iss"] == "http://testserver"
    return params["code"]


async def tokens(client: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    return await client.post("/oauth/token", data=form)


async def connect(
    client: httpx.AsyncClient, member: Member, scope: str | None = None
) -> tuple[Authorization, dict[str, str]]:
    """Registers a client, approves it for the member's workspace and exchanges the code (client signed in)."""
    authorization = Authorization(await register(client), member.workspace_id, scope)
    code = await approve(client, authorization)
    response = await tokens(client, authorization.token_form(code))
    assert response.status_code == 200, response.text
    return authorization, response.json()
