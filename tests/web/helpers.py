"""Form helpers for the settings page tests: what a browser does, with httpx."""

import re

import httpx

from tests.conftest import Member

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, "the page has no CSRF token"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, member: Member) -> str:
    """Signs the client in as the member; answers a CSRF token of the new session."""
    form = await client.get("/settings/sign-in")
    response = await client.post(
        "/settings/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": member.api_key}
    )
    assert response.status_code == 303, response.text
    page = await client.get("/settings/integrations")
    assert page.status_code == 200, page.text
    return csrf_token(page.text)
