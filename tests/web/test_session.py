"""Sign-in sessions and CSRF on the settings page, over HTTP on both databases."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from platform_server.auth.models import ApiKey
from platform_server.db import utcnow
from platform_server.security import hash_token
from platform_server.web.models import WebSession
from tests.conftest import Member, row_count
from tests.web.helpers import csrf_token, sign_in


def _set_cookie(response: httpx.Response, name: str) -> str:
    headers = [value for value in response.headers.get_list("set-cookie") if value.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


class TestSignIn:
    async def test_form_is_labelled_and_carries_a_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/settings/sign-in")
        assert response.status_code == 200
        assert '<label for="api-key">API key</label>' in response.text
        assert csrf_token(response.text)
        nonce_cookie = _set_cookie(response, "platform_csrf")
        assert "HttpOnly" in nonce_cookie
        assert "Path=/settings" in nonce_cookie
        assert "samesite=lax" in nonce_cookie.lower()

    async def test_valid_key_starts_a_session_in_an_http_only_lax_cookie(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        form = await client.get("/settings/sign-in")
        response = await client.post(
            "/settings/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": f"  {owner.api_key}\n"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/integrations"
        cookie = _set_cookie(response, "platform_session")
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        assert "Path=/settings" in cookie
        assert "Max-Age=28800" in cookie
        assert "Secure" not in cookie
        token = cookie.split(";", 1)[0].split("=", 1)[1]
        async with app.state.sessionmaker() as session:
            stored = (await session.scalars(select(WebSession))).all()
        assert len(stored) == 1
        # Only the hash is stored, never the cookie's value or the API key.
        assert stored[0].token_hash == hash_token(token)
        assert stored[0].team_id == owner.team_id
        assert stored[0].user_id == owner.user_id

    @pytest.mark.parametrize("api_key", ["", "plat_not-a-real-key", "x" * 5000, "Bearer something"])
    async def test_a_wrong_key_is_refused_and_changes_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, api_key: str
    ) -> None:
        form = await client.get("/settings/sign-in")
        response = await client.post(
            "/settings/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": api_key}
        )
        assert response.status_code == 401
        assert "That API key is not valid or has been revoked" in response.text
        assert "platform_session" not in response.headers.get("set-cookie", "")
        assert await row_count(app, WebSession) == 0

    async def test_a_revoked_key_cannot_sign_in(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(ApiKey).values(revoked_at=utcnow()))
        app.state.principal_cache.evict(team_id=owner.team_id)
        form = await client.get("/settings/sign-in")
        response = await client.post(
            "/settings/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": owner.api_key}
        )
        assert response.status_code == 401
        assert await row_count(app, WebSession) == 0

    async def test_without_the_csrf_token_it_is_refused(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await client.get("/settings/sign-in")
        response = await client.post("/settings/sign-in", data={"api_key": owner.api_key})
        assert response.status_code == 403
        assert "This form has expired" in response.text
        assert await row_count(app, WebSession) == 0

    async def test_a_token_for_another_browser_is_refused(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        # The attacker's own form token, replayed from a victim's browser (which has another nonce cookie).
        async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as attacker:
            token = csrf_token((await attacker.get("/settings/sign-in")).text)
        await client.get("/settings/sign-in")
        response = await client.post("/settings/sign-in", data={"csrf_token": token, "api_key": owner.api_key})
        assert response.status_code == 403
        assert await row_count(app, WebSession) == 0

    async def test_without_the_nonce_cookie_it_is_refused(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        token = csrf_token((await client.get("/settings/sign-in")).text)
        client.cookies.clear()
        response = await client.post("/settings/sign-in", data={"csrf_token": token, "api_key": owner.api_key})
        assert response.status_code == 403
        assert await row_count(app, WebSession) == 0

    async def test_a_cross_site_post_is_refused_even_with_a_token(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        token = csrf_token((await client.get("/settings/sign-in")).text)
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            response = await client.post(
                "/settings/sign-in", data={"csrf_token": token, "api_key": owner.api_key}, headers=headers
            )
            assert response.status_code == 403
        same_origin = await client.post(
            "/settings/sign-in",
            data={"csrf_token": token, "api_key": owner.api_key},
            headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        )
        assert same_origin.status_code == 303
        assert await row_count(app, WebSession) == 1

    async def test_a_json_body_is_refused(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await client.get("/settings/sign-in")
        response = await client.post("/settings/sign-in", json={"api_key": owner.api_key})
        assert response.status_code == 403
        malformed = await client.post(
            "/settings/sign-in",
            content=b"\xff\xfe{",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert malformed.status_code in (400, 403)
        assert await row_count(app, WebSession) == 0

    async def test_signed_in_the_sign_in_page_leads_to_the_integrations(
        self, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await sign_in(client, owner)
        response = await client.get("/settings/sign-in")
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/integrations"

    async def test_settings_root_leads_to_the_integrations(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/settings")
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/integrations"


class TestSignInGuessing:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": 3}

    async def test_past_the_limit_even_the_right_key_is_refused_from_that_address(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        for guess in ("plat_guess-one", "plat_guess-two", ""):
            form = await client.get("/settings/sign-in")
            response = await client.post(
                "/settings/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": guess}
            )
            assert response.status_code == 401
        # Not from the cache: only keys it does not know can be guesses.
        app.state.principal_cache.evict(team_id=owner.team_id)
        form = await client.get("/settings/sign-in")
        refused = await client.post(
            "/settings/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": owner.api_key}
        )
        assert refused.status_code == 429
        assert "Too many failed authentication attempts" in refused.text
        assert await row_count(app, WebSession) == 0


class TestSecureCookies:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"PUBLIC_BASE_URL": "https://platform.example.com"}

    async def test_cookies_are_secure_under_https(self, client: httpx.AsyncClient, owner: Member) -> None:
        transport = client._transport
        async with httpx.AsyncClient(transport=transport, base_url="https://platform.example.com") as browser:
            form = await browser.get("/settings/sign-in")
            assert "Secure" in _set_cookie(form, "platform_csrf")
            response = await browser.post(
                "/settings/sign-in", data={"csrf_token": csrf_token(form.text), "api_key": owner.api_key}
            )
            assert response.status_code == 303
            assert "Secure" in _set_cookie(response, "platform_session")
            assert (await browser.get("/settings/integrations")).status_code == 200


class TestSession:
    async def test_pages_need_a_session(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/settings/integrations")
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/sign-in"

    async def test_a_forged_cookie_is_no_session(self, client: httpx.AsyncClient, owner: Member) -> None:
        await sign_in(client, owner)
        async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as forger:
            response = await forger.get("/settings/integrations", headers={"Cookie": "platform_session=forged"})
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/sign-in?notice=session_expired"

    async def test_sign_out_ends_the_session(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        token = await sign_in(client, owner)
        assert await row_count(app, WebSession) == 1
        response = await client.post("/settings/sign-out", data={"csrf_token": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/sign-in?notice=signed_out"
        assert 'platform_session=""' in _set_cookie(response, "platform_session")
        assert await row_count(app, WebSession) == 0
        assert (await client.get("/settings/integrations")).status_code == 303
        signed_out = await client.get("/settings/sign-in?notice=signed_out")
        assert "You have signed out." in signed_out.text

    async def test_sign_out_without_the_token_changes_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await sign_in(client, owner)
        response = await client.post("/settings/sign-out", data={})
        assert response.status_code == 403
        assert await row_count(app, WebSession) == 1
        assert (await client.get("/settings/integrations")).status_code == 200

    async def test_a_token_of_another_session_is_refused(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as other:
            other_token = await sign_in(other, other_team)
        await sign_in(client, owner)
        response = await client.post("/settings/sign-out", data={"csrf_token": other_token})
        assert response.status_code == 403
        assert await row_count(app, WebSession) == 2

    async def test_the_session_expires(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await sign_in(client, owner)
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        response = await client.get("/settings/integrations")
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/sign-in?notice=session_expired"
        expired = await client.get(response.headers["location"])
        assert "Your session has ended" in expired.text

    async def test_revoking_the_key_ends_the_session(self, client: httpx.AsyncClient, owner: Member) -> None:
        await sign_in(client, owner)
        keys = await client.get("/api/api-keys", headers=owner.headers)
        key_id = keys.json()["data"][0]["id"]
        # Another owner key first: the team's last one cannot be revoked.
        assert (await client.post("/api/api-keys", json={"name": "spare"}, headers=owner.headers)).status_code == 201
        assert (await client.delete(f"/api/api-keys/{key_id}", headers=owner.headers)).status_code == 200
        response = await client.get("/settings/integrations")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/settings/sign-in")

    async def test_the_session_cookie_is_not_an_api_credential(self, client: httpx.AsyncClient, owner: Member) -> None:
        await sign_in(client, owner)
        token = client.cookies.get("platform_session")
        assert token
        # Path=/settings keeps the cookie away from /api, and the API only reads the Authorization header, so
        # a cross-site request can never ride on a signed-in browser there.
        async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as browser:
            response = await browser.get("/api/integrations", headers={"Cookie": f"platform_session={token}"})
        assert response.status_code == 401


class TestSignInLeadsBack:
    """The page that sent the browser to sign in is where the sign-in leads, so its banner is not lost."""

    async def test_the_outcome_banner_survives_a_sign_in(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get("/settings/integrations?success=github")
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/sign-in?next=%2Fsettings%2Fintegrations%3Fsuccess%3Dgithub"
        form = await client.get(response.headers["location"])
        assert 'name="next" value="/settings/integrations?success=github"' in form.text
        signed_in = await client.post(
            "/settings/sign-in",
            data={
                "csrf_token": csrf_token(form.text),
                "api_key": owner.api_key,
                "next": "/settings/integrations?success=github",
            },
        )
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/settings/integrations?success=github"
        page = await client.get(signed_in.headers["location"])
        assert "GitHub is connected." in page.text

    async def test_an_ended_session_leads_back_too(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await sign_in(client, owner)
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        response = await client.get("/settings/integrations?error=access_denied")
        assert response.headers["location"] == (
            "/settings/sign-in?notice=session_expired&next=%2Fsettings%2Fintegrations%3Ferror%3Daccess_denied"
        )

    async def test_a_wrong_key_keeps_where_to_go(self, client: httpx.AsyncClient, owner: Member) -> None:
        form = await client.get("/settings/sign-in?next=/settings/integrations?notice=enabled")
        response = await client.post(
            "/settings/sign-in",
            data={"csrf_token": csrf_token(form.text), "api_key": "plat_wrong", "next": "/settings/integrations?x=1"},
        )
        assert response.status_code == 401
        assert 'name="next" value="/settings/integrations?x=1"' in response.text

    async def test_signed_in_the_sign_in_page_leads_on(self, client: httpx.AsyncClient, owner: Member) -> None:
        await sign_in(client, owner)
        response = await client.get("/settings/sign-in", params={"next": "/settings/integrations?notice=enabled"})
        assert response.headers["location"] == "/settings/integrations?notice=enabled"

    @pytest.mark.parametrize(
        "next_page",
        [
            "https://evil.example/settings/x",
            "//evil.example/settings/x",
            "/\\evil.example/settings/",
            "/settings\\@evil.example",
            "javascript:alert(1)//settings/",
            "/api/integrations",
            "/settings/sign-in",
            "/settings/x\r\nSet-Cookie: a=b",
            "/settings/" + "x" * 5000,
        ],
    )
    async def test_only_settings_pages_of_this_site_are_led_to(
        self, client: httpx.AsyncClient, owner: Member, next_page: str
    ) -> None:
        form = await client.get("/settings/sign-in", params={"next": next_page})
        assert 'name="next"' not in form.text
        response = await client.post(
            "/settings/sign-in",
            data={"csrf_token": csrf_token(form.text), "api_key": owner.api_key, "next": next_page},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/integrations"
