"""Drives the OAuth round trip the way a browser does: create, open the consent page, approve or deny, callback.

The callback finishes only in a browser signed in to the settings page as the user who started the flow: sign
the client in first (`tests.web.helpers.sign_in`), or let `connect` play that browser.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.conftest import Member
from tests.web.helpers import csrf_token, sign_in

PROVIDERS = ("github", "jira", "linear", "notion", "slack", "figma")
SETTINGS_URL = "http://testserver/settings/integrations"
SETTINGS_CALLBACK_URL = "http://testserver/settings/oauth/callback"


@dataclass
class Authorization:
    integration: dict[str, Any]
    oauth_url: str

    @property
    def id(self) -> str:
        return str(self.integration["id"])

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.oauth_url).query))

    @property
    def path(self) -> str:
        return urlsplit(self.oauth_url).path


async def start(client: httpx.AsyncClient, member: Member, provider: str, **body: Any) -> Authorization:
    response = await client.post("/api/integrations", json={"provider": provider, **body}, headers=member.headers)
    assert response.status_code == 201, response.text
    data = response.json()
    return Authorization(data["integration"], data["oauthUrl"])


async def decide(
    client: httpx.AsyncClient, authorization: Authorization, *, approve: bool = True, login: str | None = None
) -> str:
    """Shows the consent page, submits the decision; answers the callback URL the provider redirects to."""
    page = await client.get(authorization.oauth_url)
    assert page.status_code == 200, page.text
    assert "Approve" in page.text
    form = {**authorization.params, "decision": "approve" if approve else "deny"}
    if login is not None:
        form["login"] = login
    response = await client.post(authorization.path, data=form)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("http://testserver/api/integrations/oauth/callback?")
    return location


async def forward(client: httpx.AsyncClient, url: str) -> str:
    """Follows the provider's redirect to the API's callback; answers where it hands the browser over to."""
    response = await client.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(SETTINGS_CALLBACK_URL + "?")
    return location


async def callback(client: httpx.AsyncClient, url: str) -> str:
    """Follows the provider's redirect through both callbacks in a signed-in browser; answers where we send the
    browser next."""
    response = await client.get(await forward(client, url))
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(SETTINGS_URL + "?")
    return location


@asynccontextmanager
async def browser_of(client: httpx.AsyncClient, member: Member) -> AsyncIterator[None]:
    """The member's own browser, signed in to the settings page; the client's cookies are back afterwards."""
    saved = httpx.Cookies(client.cookies)
    client.cookies.clear()
    try:
        await sign_in(client, member)
        yield
    finally:
        client.cookies = saved


async def connect(
    client: httpx.AsyncClient, member: Member, provider: str, *, login: str | None = None, **body: Any
) -> Authorization:
    authorization = await start(client, member, provider, **body)
    async with browser_of(client, member):
        location = await callback(client, await decide(client, authorization, login=login))
    assert location == f"{SETTINGS_URL}?success={provider}"
    return authorization


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def connect_over_http(http: httpx.Client, api_key: str, provider: str) -> str:
    """A browser against a real server: signs in to the settings page with the key (the browser that must finish
    the authorization), creates the integration, approves on the sandbox's consent page and follows both
    callbacks; answers the connected integration's id."""
    form = http.get("/settings/sign-in")
    signed_in = http.post("/settings/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": api_key})
    assert signed_in.status_code == 303, signed_in.text
    created = http.post(
        "/api/integrations", json={"provider": provider}, headers={"Authorization": f"Bearer {api_key}"}
    )
    assert created.status_code == 201, created.text
    consent = urlsplit(created.json()["oauthUrl"])
    approved = http.post(consent.path, data={**dict(parse_qsl(consent.query)), "decision": "approve"})
    assert approved.status_code == 302, approved.text
    location = approved.headers["location"]
    for _ in range(2):
        location = http.get(location).headers["location"]
    assert location.endswith(f"/settings/integrations?success={provider}"), location
    return str(created.json()["integration"]["id"])
