"""The OAuth callback finishes only in a browser signed in as the user who started the flow.

A team admin could otherwise send anyone the `oauthUrl` of a pending integration, and whoever approved it would
link their own provider account into that team. Each test plays two parties with one httpx client: the starter
(API key) and the browser that opens the link (cookies), signed in as someone or not at all.
"""

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from platform_server.integrations.models import Integration, OAuthState
from platform_server.teams.models import Role, User
from tests.conftest import Member, row_count
from tests.integrations.helpers import SETTINGS_URL, Authorization, callback, decide, forward, query, start
from tests.web.helpers import csrf_token, sign_in

SIGN_IN_TO_CONNECT = "/settings/sign-in?notice=sign_in_to_connect&next=%2Fsettings%2Foauth%2Fcallback"


async def _rows(app: Any) -> tuple[list[Integration], list[OAuthState]]:
    async with app.state.sessionmaker() as session:
        integrations = list((await session.scalars(select(Integration))).all())
        states = list((await session.scalars(select(OAuthState))).all())
    return integrations, states


async def _nothing_linked(app: Any, authorization: Authorization) -> None:
    """The starter's integration is still pending with no account or token, its state unused, and no other
    integration exists anywhere."""
    integrations, states = await _rows(app)
    assert [(row.id, row.status) for row in integrations] == [(authorization.id, "pending")]
    [integration] = integrations
    assert integration.provider_account_id is None
    assert integration.access_token_encrypted is None
    assert [state.used_at for state in states] == [None]


async def _sign_in_with_the_form(client: httpx.AsyncClient, location: str, member: Member) -> httpx.Response:
    """What a person does on the sign-in page the callback sent them to."""
    form = await client.get(location)
    assert form.status_code == 200
    return await client.post(
        "/settings/sign-in",
        data={"csrf_token": csrf_token(form.text), "api_key": member.api_key, "next": "/settings/oauth/callback"},
    )


class TestWithoutASession:
    async def test_nothing_is_linked_and_the_browser_is_asked_to_sign_in(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        authorization = await start(client, owner, "github")
        handed_over = await forward(client, await decide(client, authorization))
        response = await client.get(handed_over)
        assert response.status_code == 303
        assert response.headers["location"] == SIGN_IN_TO_CONNECT
        # The code and state wait in this browser's HttpOnly cookie, scoped to the callback; never in a URL.
        [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith("platform_oauth_callback=")]
        assert "HttpOnly" in cookie
        assert "Path=/settings/oauth/callback" in cookie
        assert "Max-Age=600" in cookie
        assert authorization.params["state"] not in response.headers["location"]
        await _nothing_linked(app, authorization)

        page = await client.get(response.headers["location"])
        assert "Sign in to finish connecting the integration" in page.text
        assert 'name="next" value="/settings/oauth/callback"' in page.text

    async def test_signing_in_as_the_starter_then_completes_it(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        authorization = await start(client, owner, "github")
        response = await client.get(await forward(client, await decide(client, authorization, login="acme-corp")))
        signed_in = await _sign_in_with_the_form(client, response.headers["location"], owner)
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/settings/oauth/callback"

        finished = await client.get(signed_in.headers["location"])
        assert finished.status_code == 303
        assert finished.headers["location"] == f"{SETTINGS_URL}?success=github"
        # The waiting code and state are gone from the browser once used.
        assert 'platform_oauth_callback=""' in finished.headers["set-cookie"]
        assert "platform_oauth_callback" not in client.cookies
        [integration], states = await _rows(app)
        assert (integration.id, integration.status) == (authorization.id, "connected")
        assert integration.provider_account_name == "acme-corp"
        assert [state.used_at is not None for state in states] == [True]
        page = await client.get(finished.headers["location"])
        assert "GitHub is connected." in page.text

    async def test_the_sign_in_that_follows_cannot_be_replayed(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        authorization = await start(client, owner, "linear")
        response = await client.get(await forward(client, await decide(client, authorization)))
        await _sign_in_with_the_form(client, response.headers["location"], owner)
        assert query((await client.get("/settings/oauth/callback")).headers["location"]) == {"success": "linear"}
        # Again, with nothing waiting: there is nothing to finish.
        again = await client.get("/settings/oauth/callback")
        assert query(again.headers["location"]) == {"error": "invalid_state"}
        assert await row_count(app, Integration) == 1


class TestAnotherTeam:
    async def test_a_lured_approval_links_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        """Acme's admin sends the link to someone of Globex, signed in to Globex's settings, who approves it with
        their own provider account: nothing lands in either team."""
        authorization = await start(client, owner, "github")
        await sign_in(client, other_team)
        location = await callback(client, await decide(client, authorization, login="globex-corp"))
        assert query(location) == {"error": "wrong_account"}
        await _nothing_linked(app, authorization)
        listed = await client.get("/api/integrations", headers=other_team.headers)
        assert listed.json()["integrations"] == []
        page = await client.get(location)
        assert "that authorization was started by another user" in page.text

    async def test_a_lured_browser_without_a_session_signs_in_and_still_links_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        authorization = await start(client, owner, "github")
        response = await client.get(await forward(client, await decide(client, authorization, login="globex-corp")))
        await _sign_in_with_the_form(client, response.headers["location"], other_team)
        finished = await client.get("/settings/oauth/callback")
        assert query(finished.headers["location"]) == {"error": "wrong_account"}
        await _nothing_linked(app, authorization)

    async def test_a_refusal_neither_denies_nor_burns_the_starters_flow(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        """A denial or a replayed callback from the wrong browser changes nothing: the integration is not removed
        and the state stays usable by its owner only."""
        authorization = await start(client, owner, "notion")
        await sign_in(client, other_team)
        denied = await callback(client, await decide(client, authorization, approve=False))
        assert query(denied) == {"error": "wrong_account"}
        await _nothing_linked(app, authorization)

        client.cookies.clear()
        await sign_in(client, owner)
        approved = await callback(client, await decide(client, authorization))
        assert query(approved) == {"success": "notion"}


class TestSameTeam:
    async def test_another_user_of_the_team_cannot_finish_it(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        """Even an admin of the same team: the link would put their provider account where the starter meant
        theirs to be."""
        admin = await add_member(owner, Role.admin)
        authorization = await start(client, owner, "slack")
        await sign_in(client, admin)
        location = await callback(client, await decide(client, authorization))
        assert query(location) == {"error": "wrong_account"}
        await _nothing_linked(app, authorization)

    async def test_a_starter_no_longer_admin_cannot_finish_it(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        admin = await add_member(owner, Role.admin)
        authorization = await start(client, admin, "figma")
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(User).where(User.id == admin.user_id).values(role=Role.member))
        await sign_in(client, admin)
        location = await callback(client, await decide(client, authorization))
        assert query(location) == {"error": "forbidden"}
        await _nothing_linked(app, authorization)


class TestFailedConsent:
    @pytest.mark.parametrize(
        ("approve", "code", "message"),
        [
            (False, "access_denied", "You cancelled the authorization, so nothing was connected."),
            (True, "invalid_grant", "The provider refused the authorization code (it may have expired), so nothing"),
        ],
        ids=["denied", "code-refused"],
    )
    async def test_no_error_card_is_left_behind(
        self, app: Any, client: httpx.AsyncClient, owner: Member, approve: bool, code: str, message: str
    ) -> None:
        """The banner says nothing was connected, and the page agrees: no "Error" card for the attempt."""
        token = await sign_in(client, owner)
        response = await client.post("/settings/integrations/connect", data={"csrf_token": token, "provider": "jira"})
        authorization = Authorization({"id": ""}, response.headers["location"])
        url = await decide(client, authorization, approve=approve)
        if approve:
            # The provider no longer knows the code by the time it is exchanged.
            app.state.sandbox.codes.clear()
        location = await callback(client, url)
        assert query(location) == {"error": code}
        page = await client.get(location)
        assert message in page.text
        assert "Nothing is connected yet" in page.text
        assert 'data-status="error"' not in page.text
        assert await row_count(app, Integration) == 0
