"""MCP clients with OAuth access tokens at the workspace MCP endpoint: audience, scopes, revocation, audit."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from platform_server.db import utcnow
from platform_server.oauth_server.models import OAuthToken
from tests.conftest import Member
from tests.gateway.conftest import Enable, tool_calls
from tests.gateway.test_transport import modern_headers, modern_request, url
from tests.oauth_server.helpers import Authorization, connect, consent_page, register
from tests.web.helpers import csrf_token, sign_in

METADATA = "http://testserver/.well-known/oauth-protected-resource/api/workspaces/{}/mcp"


def bearer(token: str, method: str, name: str | None = None) -> dict[str, str]:
    return {**modern_headers(None, method, name), "Authorization": f"Bearer {token}"}


async def call(client: httpx.AsyncClient, token: str, workspace_id: str, tool: str, **arguments: Any) -> httpx.Response:
    body = modern_request("tools/call", {"name": tool, "arguments": arguments})
    return await client.post(url(workspace_id), json=body, headers=bearer(token, "tools/call", tool))


async def listing(client: httpx.AsyncClient, token: str, workspace_id: str) -> httpx.Response:
    return await client.post(url(workspace_id), json=modern_request("tools/list"), headers=bearer(token, "tools/list"))


async def test_token_lists_and_calls_tools_as_the_person_and_is_audited(
    client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_issues", "github_create_issue"], default_project="acme/product")
    await sign_in(client, owner)
    _, issued = await connect(client, owner)
    token = issued["access_token"]

    response = await listing(client, token, owner.workspace_id)
    assert response.status_code == 200, response.text
    assert [tool["name"] for tool in response.json()["result"]["tools"]] == [
        "github_create_issue",
        "github_list_issues",
    ]
    response = await call(client, token, owner.workspace_id, "github_create_issue", title="From an agent")
    assert response.status_code == 200, response.text
    assert response.json()["result"]["isError"] is False

    [audited] = await tool_calls(client, owner)
    assert audited["userId"] == owner.user_id
    assert audited["apiKeyId"] is None
    assert audited["oauthClientId"] is not None

    # The REST API is not the token's resource.
    rest = await client.get("/api/workspaces", headers={"Authorization": f"Bearer {token}"})
    assert rest.status_code == 401


async def test_token_of_one_workspace_is_refused_at_another(
    client: httpx.AsyncClient, app: Any, owner: Member, other_team: Member
) -> None:
    from platform_server.workspaces.models import Workspace

    async with app.state.sessionmaker() as session, session.begin():
        second = Workspace(team_id=owner.team_id, name="Second")
        session.add(second)
        await session.flush()
        second_id = second.id
    await sign_in(client, owner)
    _, issued = await connect(client, owner)
    for workspace_id in (second_id, other_team.workspace_id):
        response = await listing(client, issued["access_token"], workspace_id)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="invalid_token"')
        assert f'resource_metadata="{METADATA.format(workspace_id)}"' in challenge


async def test_read_only_token_gets_insufficient_scope_for_writing_tools(
    client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_issues", "github_create_issue"], default_project="acme/product")
    await sign_in(client, owner)
    _, issued = await connect(client, owner, scope="tools:read")
    assert issued["scope"] == "tools:read"
    token = issued["access_token"]

    assert (await call(client, token, owner.workspace_id, "github_list_issues")).status_code == 200
    response = await call(client, token, owner.workspace_id, "github_create_issue", title="Nope")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert 'scope="tools:read tools:write"' in challenge
    # Refused before the call: only the read-only call is audited.
    assert [row["tool"] for row in await tool_calls(client, owner)] == ["github_list_issues"]


async def test_expired_revoked_and_disconnected_tokens_are_refused(
    client: httpx.AsyncClient, app: Any, owner: Member
) -> None:
    await sign_in(client, owner)
    authorization, issued = await connect(client, owner)
    assert (await listing(client, issued["access_token"], owner.workspace_id)).status_code == 200

    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(update(OAuthToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await listing(client, issued["access_token"], owner.workspace_id)
    assert expired.status_code == 401
    assert "expired" in expired.headers["www-authenticate"]

    _, second = await connect(client, owner)
    revoked = await client.post(
        "/oauth/revoke", data={"token": second["refresh_token"], "client_id": authorization.client_id}
    )
    assert revoked.status_code == 400  # issued to another client: nothing revoked
    assert (await listing(client, second["access_token"], owner.workspace_id)).status_code == 200

    page = await client.get("/settings/connected-apps")
    assert page.status_code == 200
    assert page.text.count('data-testid="connected-app"') == 2
    assert "Main" in page.text
    revoke_url = page.text.split('action="/settings/connected-apps/')[1].split('"')[0]
    response = await client.post(f"/settings/connected-apps/{revoke_url}", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/settings/connected-apps?notice=app_revoked"
    page = await client.get("/settings/connected-apps")
    assert page.text.count('data-testid="connected-app"') == 1


async def test_consent_page_shows_what_a_read_only_grant_could_call(
    client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_issues", "github_create_issue"], default_project="acme/product")
    await sign_in(client, owner)
    authorization = Authorization(await register(client, name="Reader <b>bot</b>"), owner.workspace_id, "tools:read")
    page = await consent_page(client, authorization)
    assert page.status_code == 200
    # The client names itself: the name is shown as text, never as markup.
    assert "<strong>Reader &lt;b&gt;bot&lt;/b&gt;</strong> asks to use the tools of the workspace" in page.text
    assert "Read-only tools" in page.text
    assert "github_list_issues" in page.text
    assert "github_create_issue" not in page.text
    assert "1 tool that changes data stays out of reach of a read-only grant." in page.text
    # The form may lead on to the app's redirect URI.
    assert "http://127.0.0.1:33418" in page.headers["content-security-policy"].split("form-action")[1]
