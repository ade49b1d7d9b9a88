"""The integrations page over HTTP on both databases: what it shows, what its forms do and refuse."""

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from platform_server.integrations.models import Integration, SyncLog, WorkspaceIntegration
from platform_server.teams.models import Role
from tests.conftest import Member, row_count
from tests.integrations.helpers import Authorization, callback, connect, decide
from tests.web.helpers import csrf_token, sign_in


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"PLATFORM_SANDBOX": True}


async def _connect_through_the_page(client: httpx.AsyncClient, token: str, provider: str = "github") -> str:
    response = await client.post("/settings/integrations/connect", data={"csrf_token": token, "provider": provider})
    assert response.status_code == 303, response.text
    oauth_url = response.headers["location"]
    authorization = Authorization({"id": ""}, oauth_url)
    return await callback(client, await decide(client, authorization))


async def _github(app: Any) -> Integration:
    async with app.state.sessionmaker() as session:
        return (await session.scalars(select(Integration).where(Integration.provider == "github"))).one()


async def _tools(client: httpx.AsyncClient, member: Member) -> list[str]:
    catalog = (await client.get("/api/integrations/providers", headers=member.headers)).json()
    github = next(entry for entry in catalog["providers"] if entry["provider"] == "github")
    return [tool["name"] for tool in github["tools"]]


class TestPage:
    async def test_lists_every_provider_with_a_connect_button(self, client: httpx.AsyncClient, owner: Member) -> None:
        await sign_in(client, owner)
        response = await client.get("/settings/integrations")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        for name in ("GitHub", "Jira", "Linear", "Notion", "Slack", "Figma"):
            assert f'Connect<span class="visually-hidden"> {name}</span>' in response.text
        assert "Nothing is connected yet" in response.text
        assert " disabled" not in response.text
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"

    async def test_static_assets_are_served_by_the_app(self, client: httpx.AsyncClient) -> None:
        for path in ("app.css", "app.js", "logos/github.svg", "logos/figma.svg"):
            response = await client.get(f"/settings/static/{path}")
            assert response.status_code == 200, path

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("success=github", "GitHub is connected."),
            ("error=access_denied", "You cancelled the authorization"),
            ("error=invalid_state", "expired, already used or altered"),
            (
                "error=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                "Error code: &lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("success=%3Cimg%20src%3Dx%3E", "The integration is connected."),
            ("error=" + "x" * 500, "Error code: " + "x" * 64 + "…"),
        ],
    )
    async def test_query_codes_become_human_messages_never_markup(
        self, client: httpx.AsyncClient, owner: Member, query: str, expected: str
    ) -> None:
        await sign_in(client, owner)
        response = await client.get(f"/settings/integrations?{query}")
        assert response.status_code == 200
        assert expected in response.text
        assert "<script>alert" not in response.text
        assert "<img src=x" not in response.text

    async def test_an_unknown_notice_shows_nothing(self, client: httpx.AsyncClient, owner: Member) -> None:
        await sign_in(client, owner)
        response = await client.get("/settings/integrations?notice=you-have-been-hacked")
        assert "you-have-been-hacked" not in response.text
        assert 'class="banner' not in response.text


class TestConnect:
    async def test_connect_goes_to_the_consent_page_and_comes_back_connected(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        token = await sign_in(client, owner)
        response = await client.post("/settings/integrations/connect", data={"csrf_token": token, "provider": "github"})
        assert response.status_code == 303
        oauth_url = response.headers["location"]
        assert oauth_url.startswith("http://testserver/sandbox/github/login/oauth/authorize?")
        assert (await _github(app)).status == "pending"
        location = await callback(client, await decide(client, Authorization({"id": ""}, oauth_url)))
        assert location == "http://testserver/settings/integrations?success=github"
        page = await client.get(location)
        assert "GitHub is connected." in page.text
        assert 'data-status="connected"' in page.text
        assert "acme-corp" in page.text

    async def test_without_the_csrf_token_nothing_is_created(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await sign_in(client, owner)
        for kwargs in ({"data": {"provider": "github"}}, {"json": {"provider": "github"}}):
            response = await client.post("/settings/integrations/connect", **kwargs)  # type: ignore[arg-type]
            assert response.status_code == 403
            assert "This form has expired" in response.text
        assert await row_count(app, Integration) == 0

    @pytest.mark.parametrize("provider", ["", "gitlab", "<b>github</b>", "github" * 50])
    async def test_an_unknown_provider_is_refused(
        self, app: Any, client: httpx.AsyncClient, owner: Member, provider: str
    ) -> None:
        token = await sign_in(client, owner)
        response = await client.post("/settings/integrations/connect", data={"csrf_token": token, "provider": provider})
        assert response.status_code == 404
        assert "There is no provider called" in response.text
        assert "<b>github" not in response.text
        assert await row_count(app, Integration) == 0

    async def test_without_a_session_it_leads_to_sign_in(self, app: Any, client: httpx.AsyncClient) -> None:
        response = await client.post("/settings/integrations/connect", data={"provider": "github"})
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/sign-in"
        assert await row_count(app, Integration) == 0

    async def test_a_member_sees_but_cannot_connect(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        member = await add_member(owner, Role.member)
        token = await sign_in(client, member)
        page = await client.get("/settings/integrations")
        assert "only owners and admins can connect or change them" in page.text
        response = await client.post("/settings/integrations/connect", data={"csrf_token": token, "provider": "github"})
        assert response.status_code == 403
        assert "needs the admin or owner role" in response.text
        assert await row_count(app, Integration) == 0

    async def test_reconnecting_an_expired_integration_keeps_it(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await connect(client, owner, "github")
        before = await _github(app)
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(Integration).values(status="expired", status_reason="Refresh token revoked"))
        token = await sign_in(client, owner)
        page = await client.get("/settings/integrations")
        assert "Refresh token revoked" in page.text
        response = await client.post(f"/settings/integrations/{before.id}/reconnect", data={"csrf_token": token})
        assert response.status_code == 303
        await callback(client, await decide(client, Authorization({"id": ""}, response.headers["location"])))
        after = await _github(app)
        assert (after.id, after.status) == (before.id, "connected")
        assert await row_count(app, Integration) == 1


class TestUnconfigured:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"PLATFORM_SANDBOX": False}

    async def test_connect_is_disabled_with_the_missing_settings_named(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        token = await sign_in(client, owner)
        page = await client.get("/settings/integrations")
        assert 'aria-describedby="missing-github"' in page.text
        assert "set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET" in page.text
        response = await client.post("/settings/integrations/connect", data={"csrf_token": token, "provider": "github"})
        assert response.status_code == 400
        assert "GitHub is not configured on this server" in response.text
        assert await row_count(app, Integration) == 0


class TestOtherTeams:
    async def test_another_teams_integration_is_not_found(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        token = await sign_in(client, other_team)
        assert str(github.id) not in (await client.get("/settings/integrations")).text
        assert (await client.get(f"/settings/integrations/{github.id}/disconnect")).status_code == 404
        for path, data in (
            (f"/settings/integrations/{github.id}/disconnect", {}),
            (f"/settings/integrations/{github.id}/reconnect", {}),
            (f"/settings/workspaces/{other_team.workspace_id}/integrations/{github.id}", {}),
            (f"/settings/integrations/{github.id}/sync", {"workspace_id": other_team.workspace_id}),
        ):
            response = await client.post(path, data={"csrf_token": token, "source_entity": "issues", **data})
            assert response.status_code == 404, path
            assert f"Integration {github.id} was not found" in response.text
        assert (await _github(app)).status == "connected"
        assert await row_count(app, WorkspaceIntegration) == 0

    async def test_another_teams_workspace_is_not_found(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        token = await sign_in(client, owner)
        response = await client.post(
            f"/settings/workspaces/{other_team.workspace_id}/integrations/{github.id}",
            data={"csrf_token": token},
        )
        assert response.status_code == 404
        assert f"Workspace {other_team.workspace_id} was not found" in response.text
        assert await row_count(app, WorkspaceIntegration) == 0


class TestWorkspaceAccess:
    async def test_enable_with_chosen_tools_then_disable(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        tools = await _tools(client, owner)
        token = await sign_in(client, owner)
        path = f"/settings/workspaces/{owner.workspace_id}/integrations/{github.id}"
        response = await client.post(
            path, data={"csrf_token": token, "tools": tools[:2], "default_project": " acme/website "}
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/settings/integrations?notice=enabled#integration-{github.id}"
        listing = await client.get(f"/api/workspaces/{owner.workspace_id}/integrations", headers=owner.headers)
        [enabled] = listing.json()["integrations"]
        assert enabled["enabledTools"] == tools[:2]
        assert enabled["defaultProject"] == "acme/website"
        page = await client.get(response.headers["location"])
        assert f"Enabled · 2 of {len(tools)} tools" in page.text

        # Nothing ticked means no tools at all, not every tool.
        response = await client.post(path, data={"csrf_token": token, "default_project": ""})
        assert response.status_code == 303
        listing = await client.get(f"/api/workspaces/{owner.workspace_id}/integrations", headers=owner.headers)
        assert listing.json()["integrations"][0]["enabledTools"] == []
        assert listing.json()["integrations"][0]["defaultProject"] is None

        response = await client.post(path, data={"csrf_token": token, "action": "disable"})
        assert response.status_code == 303
        assert await row_count(app, WorkspaceIntegration) == 0

    @pytest.mark.parametrize(
        ("form", "status", "message"),
        [
            ({"tools": ["github_list_repos", "github_delete_everything"]}, 422, "github_delete_everything"),
            ({"default_project": "x" * 600}, 422, "Some values in the form are not valid"),
            ({"tools": ["y" * 300]}, 422, "Some values in the form are not valid"),
        ],
    )
    async def test_bad_input_changes_nothing(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        form: dict[str, Any],
        status: int,
        message: str,
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        token = await sign_in(client, owner)
        response = await client.post(
            f"/settings/workspaces/{owner.workspace_id}/integrations/{github.id}",
            data={"csrf_token": token, **form},
        )
        assert response.status_code == status
        assert message in response.text
        assert await row_count(app, WorkspaceIntegration) == 0

    @pytest.mark.parametrize(("workspace", "integration"), [("abc", "own"), ("own", "abc"), ("own", "9" * 19)])
    async def test_unknown_ids_are_not_found(
        self, app: Any, client: httpx.AsyncClient, owner: Member, workspace: str, integration: str
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        token = await sign_in(client, owner)
        workspace_id = owner.workspace_id if workspace == "own" else workspace
        integration_id = github.id if integration == "own" else integration
        response = await client.post(
            f"/settings/workspaces/{workspace_id}/integrations/{integration_id}", data={"csrf_token": token}
        )
        assert response.status_code == 404
        assert await row_count(app, WorkspaceIntegration) == 0

    async def test_a_pending_integration_cannot_be_enabled(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        token = await sign_in(client, owner)
        await client.post("/settings/integrations/connect", data={"csrf_token": token, "provider": "github"})
        github = await _github(app)
        response = await client.post(
            f"/settings/workspaces/{owner.workspace_id}/integrations/{github.id}", data={"csrf_token": token}
        )
        assert response.status_code == 409
        assert "only a connected integration can be enabled" in response.text
        assert await row_count(app, WorkspaceIntegration) == 0


class TestSync:
    async def test_a_sync_runs_and_its_result_is_shown(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        token = await sign_in(client, owner)
        await client.post(
            f"/settings/workspaces/{owner.workspace_id}/integrations/{github.id}",
            data={
                "csrf_token": token,
                "default_project": "acme/website",
                "tools": await _tools(client, owner),
            },
        )
        response = await client.post(
            f"/settings/integrations/{github.id}/sync",
            data={"csrf_token": token, "workspace_id": owner.workspace_id, "source_entity": "issues"},
        )
        assert response.status_code == 303
        sync_log_id = dict(parse_qsl(urlsplit(response.headers["location"]).query))["sync"]
        async with app.state.sessionmaker() as session:
            log = await session.get(SyncLog, sync_log_id)
        assert log is not None
        assert log.status == "completed"
        page = await client.get(response.headers["location"])
        assert f"Sync of GitHub completed: {log.items_synced} items synced" in page.text
        assert log.items_synced > 0

    @pytest.mark.parametrize(
        ("form", "status", "message"),
        [
            ({"source_entity": "commits"}, 422, "GitHub cannot import &#39;commits&#39;"),
            (
                {"source_entity": "issues", "workspace_id": "abc"},
                422,
                "Some values in the form are not valid",
            ),
            ({"source_entity": "issues", "workspace_id": "9" * 19}, 404, "was not found"),
            ({"source_entity": "issues"}, 409, "is not enabled for workspace"),
        ],
    )
    async def test_bad_input_runs_nothing(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        form: dict[str, str],
        status: int,
        message: str,
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        token = await sign_in(client, owner)
        data = {"csrf_token": token, "workspace_id": owner.workspace_id, **form}
        response = await client.post(f"/settings/integrations/{github.id}/sync", data=data)
        assert response.status_code == status
        assert message in response.text
        assert await row_count(app, SyncLog) == 0

    async def test_without_the_csrf_token_nothing_runs(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        await sign_in(client, owner)
        response = await client.post(
            f"/settings/integrations/{github.id}/sync",
            data={"workspace_id": owner.workspace_id, "source_entity": "issues"},
        )
        assert response.status_code == 403
        assert await row_count(app, SyncLog) == 0


class TestDisconnect:
    async def test_confirm_then_disconnect(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        token = await sign_in(client, owner)
        await client.post(
            f"/settings/workspaces/{owner.workspace_id}/integrations/{github.id}", data={"csrf_token": token}
        )
        confirm = await client.get(f"/settings/integrations/{github.id}/disconnect")
        assert confirm.status_code == 200
        assert "Disconnect GitHub?" in confirm.text
        assert "It is removed from 1 workspace (Main)" in confirm.text
        assert await row_count(app, Integration) == 1
        response = await client.post(f"/settings/integrations/{github.id}/disconnect", data={"csrf_token": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/integrations?notice=disconnected"
        assert await row_count(app, Integration) == 0
        assert await row_count(app, WorkspaceIntegration) == 0

    async def test_without_the_csrf_token_nothing_is_deleted(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await connect(client, owner, "github")
        github = await _github(app)
        page_token = await sign_in(client, owner)
        for data in ({}, {"csrf_token": page_token[:-2] + "xx"}):
            response = await client.post(f"/settings/integrations/{github.id}/disconnect", data=data)
            assert response.status_code == 403
        assert await row_count(app, Integration) == 1

    async def test_an_unknown_integration_is_not_found(self, client: httpx.AsyncClient, owner: Member) -> None:
        token = await sign_in(client, owner)
        for integration_id in ("abc", "9" * 19):
            assert (await client.get(f"/settings/integrations/{integration_id}/disconnect")).status_code == 404
            response = await client.post(
                f"/settings/integrations/{integration_id}/disconnect", data={"csrf_token": token}
            )
            assert response.status_code == 404
        assert csrf_token((await client.get("/settings/integrations")).text) == token
