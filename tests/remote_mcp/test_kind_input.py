"""Bad input on every remote MCP endpoint: the documented error, and nothing stored or changed."""

from typing import Any

import httpx
import pytest

from platform_server.integrations.models import Integration, WorkspaceIntegration
from platform_server.integrations.remote_mcp.models import RemoteMcpServer
from tests.conftest import Member, row_count
from tests.helpers import UNKNOWN_IDS, assert_error, failing_fields
from tests.remote_mcp.federation_helpers import REMOTE_SETTINGS, connect_remote, enable_tools
from tests.remote_mcp.upstreams import NodeUpstream, everything_http  # noqa: F401 (fixture)

URL = "http://127.0.0.1:9/mcp"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(REMOTE_SETTINGS)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "mcp", "url": URL}, "body.name"),
        ({"kind": "mcp", "name": "X"}, "body.url"),
        ({"kind": "mcp", "name": 3, "url": URL}, "body.name"),
        ({"kind": "mcp", "name": "", "url": URL}, "body.name"),
        ({"kind": "mcp", "name": "n" * 201, "url": URL}, "body.name"),
        ({"kind": "mcp", "name": "X", "url": "ftp://example.com/mcp"}, "body.url"),
        ({"kind": "mcp", "name": "X", "url": "https://" + "a" * 2000}, "body.url"),
        ({"kind": "mcp", "name": "X", "url": URL, "transport": "websocket"}, "body.transport"),
        ({"kind": "mcp", "name": "X", "url": URL, "slug": "Bad Slug"}, "body.slug"),
        ({"kind": "mcp", "name": "X", "url": URL, "slug": "a__b"}, "body.slug"),
        ({"kind": "mcp", "name": "X", "url": URL, "slug": "s" * 41}, "body.slug"),
        ({"kind": "mcp", "name": "X", "url": URL, "auth": {"type": "bearer"}}, "body.auth"),
        ({"kind": "mcp", "name": "X", "url": URL, "auth": {"type": "header", "token": "t"}}, "body.auth"),
        (
            {"kind": "mcp", "name": "X", "url": URL, "auth": {"type": "header", "token": "t", "headerName": "Host"}},
            "body.auth",
        ),
        ({"kind": "mcp", "name": "X", "url": URL, "auth": {"type": "none", "token": "t"}}, "body.auth"),
        ({"kind": "mcp", "name": "X", "url": URL, "auth": {"type": "magic"}}, "body.auth.type"),
        ({"kind": "mcp", "name": "X", "url": URL, "auth": "secret"}, "body.auth"),
        ({"kind": "mcp", "name": "X", "url": URL, "surprise": 1}, "body.surprise"),
        ({"kind": "mcp", "name": "X", "url": URL, "slug": "github"}, "body.slug"),
        ({"kind": "remote", "name": "X", "url": URL}, "body.provider"),
    ],
)
async def test_create_refuses_bad_bodies(
    app: Any, client: httpx.AsyncClient, owner: Member, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/integrations", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    fields = [item["field"] for item in response.json()["error"]["details"]["fields"]]
    assert field in fields
    assert await row_count(app, Integration) == 0


async def test_create_refuses_oversized_and_malformed_bodies(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    huge = await client.post(
        "/api/integrations",
        json={"kind": "mcp", "name": "X", "url": URL, "auth": {"type": "bearer", "token": "t" * 2_000_000}},
        headers=owner.headers,
    )
    assert huge.status_code == 413
    broken = await client.post(
        "/api/integrations", content=b'{"kind": "mcp",', headers={**owner.headers, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert await row_count(app, Integration) == 0


async def test_unreachable_servers_are_refused_whatever_their_auth(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    unreachable = await client.post(
        "/api/integrations", json={"kind": "mcp", "name": "X", "url": URL}, headers=owner.headers
    )
    assert unreachable.status_code == 502
    assert unreachable.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    oauth = await client.post(
        "/api/integrations",
        json={"kind": "mcp", "name": "X", "url": URL, "auth": {"type": "oauth"}},
        headers=owner.headers,
    )
    assert oauth.status_code == 502
    assert oauth.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert await row_count(app, Integration) == 0


@pytest.mark.parametrize("settings_overrides", [{"PLATFORM_SANDBOX": True}])
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/mcp", "https://127.0.0.1/mcp", "https://10.0.0.1/mcp", "https://localhost/mcp"]
)
async def test_private_addresses_are_refused_unless_allowed(
    app: Any, client: httpx.AsyncClient, owner: Member, url: str
) -> None:
    response = await client.post(
        "/api/integrations", json={"kind": "mcp", "name": "X", "url": url}, headers=owner.headers
    )
    assert response.status_code == 400, response.text
    assert "REMOTE_MCP_ALLOW_PRIVATE" in response.json()["error"]["message"]
    assert await row_count(app, RemoteMcpServer) == 0


async def test_tool_endpoints_refuse_unknown_ids_roles_and_names(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    other_team: Member,
    add_member: Any,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    integration_id = (await connect_remote(client, owner, everything_http.url))["id"]
    native = await client.post("/api/integrations", json={"provider": "github"}, headers=owner.headers)
    native_id = native.json()["integration"]["id"]
    for caller, unknown in [
        *((owner, unknown) for unknown in (*UNKNOWN_IDS, native_id)),
        # Another team's server is not found, exactly like a missing one.
        (other_team, integration_id),
    ]:
        for method, path in [
            ("GET", f"/api/integrations/{unknown}/tools"),
            ("POST", f"/api/integrations/{unknown}/tools/refresh"),
            ("POST", f"/api/integrations/{unknown}/tools/get-sum/approve"),
        ]:
            assert_error(await client.request(method, path, headers=caller.headers), 404, "NOT_FOUND")
    missing_tool = await client.post(
        f"/api/integrations/{integration_id}/tools/no-such-tool/approve", headers=owner.headers
    )
    assert_error(missing_tool, 404, "NOT_FOUND")
    long_name = await client.post(
        f"/api/integrations/{integration_id}/tools/{'x' * 201}/approve", headers=owner.headers
    )
    assert failing_fields(long_name) == ["path.tool_name"]

    member = await add_member(owner)
    assert (await client.get(f"/api/integrations/{integration_id}/tools", headers=member.headers)).status_code == 200
    for path in ("tools/refresh", "tools/get-sum/approve"):
        response = await client.post(f"/api/integrations/{integration_id}/{path}", headers=member.headers)
        assert_error(response, 403, "FORBIDDEN")


async def test_enabling_refuses_unknown_tools_and_default_projects(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    integration_id = (await connect_remote(client, owner, everything_http.url))["id"]
    for tools in (["everything__nope"], ["get-sum"], ["github_list_repos"]):
        response = await enable_tools(client, owner, integration_id, tools)
        assert response.status_code == 422, tools
    with_project = await client.post(
        f"/api/workspaces/{owner.workspace_id}/integrations",
        json={"integrationId": integration_id, "defaultProject": "acme/product"},
        headers=owner.headers,
    )
    assert with_project.status_code == 422
    assert await row_count(app, WorkspaceIntegration) == 0

    # Two remote servers and a native provider side by side in one workspace.
    second = (await connect_remote(client, owner, everything_http.url, name="Second"))["id"]
    assert (await enable_tools(client, owner, integration_id, ["everything__echo"])).status_code == 201
    assert (await enable_tools(client, owner, second, ["second__echo"])).status_code == 201
    patched = await client.patch(
        f"/api/workspaces/{owner.workspace_id}/integrations/{second}",
        json={"enabledTools": ["second__get-sum", "second__echo"]},
        headers=owner.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabledTools"] == ["second__echo", "second__get-sum"]
    bad_patch = await client.patch(
        f"/api/workspaces/{owner.workspace_id}/integrations/{second}",
        json={"enabledTools": ["everything__echo"]},
        headers=owner.headers,
    )
    assert bad_patch.status_code == 422
