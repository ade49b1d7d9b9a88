"""Remote MCP servers as integrations of kind "mcp": connect (no auth, bearer, header; both transports), read,
delete; the provider form unchanged beside it."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_server.integrations.models import Integration
from platform_server.integrations.remote_mcp.models import RemoteMcpServer, RemoteMcpTool
from tests.conftest import Member, row_count
from tests.remote_mcp.federation_helpers import REMOTE_SETTINGS, connect_remote, remote_tools
from tests.remote_mcp.upstreams import (  # noqa: F401 (fixtures)
    MutableUpstream,
    NodeUpstream,
    _mutable_server,
    everything_http,
    everything_sse,
    mutable,
)

EVERYTHING_TOOLS = 13


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(REMOTE_SETTINGS)


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_connects_a_server_at_once_with_its_tools(
    client: httpx.AsyncClient,
    owner: Member,
    everything_http: NodeUpstream,  # noqa: F811
    everything_sse: NodeUpstream,  # noqa: F811
    transport: str,
) -> None:
    upstream = everything_sse if transport == "sse" else everything_http
    integration = await connect_remote(client, owner, upstream.url, transport=transport)
    assert integration["kind"] == "mcp"
    assert integration["provider"] == "mcp"
    assert integration["status"] == "connected"
    server = integration["remoteServer"]
    assert server["url"] == upstream.url
    assert server["transport"] == transport
    assert server["authType"] == "none"
    assert server["slug"] == "everything"
    assert server["toolCount"] == EVERYTHING_TOOLS
    assert server["serverInfo"]["name"] == "mcp-servers/everything"

    listed = (await client.get("/api/integrations", headers=owner.headers)).json()["integrations"]
    assert [(item["id"], item["kind"], item["remoteServer"]["slug"]) for item in listed] == [
        (integration["id"], "mcp", "everything")
    ]
    detail = (await client.get(f"/api/integrations/{integration['id']}", headers=owner.headers)).json()
    assert detail["kind"] == "mcp"
    assert detail["remoteServer"]["toolCount"] == EVERYTHING_TOOLS

    tools = await remote_tools(client, owner, integration["id"])
    assert len(tools) == EVERYTHING_TOOLS
    add = tools["get-sum"]
    assert add["exposedName"] == "everything__get-sum"
    assert add["status"] == "approved"
    assert add["changes"] == []
    assert add["definition"]["inputSchema"]["properties"].keys() == {"a", "b"}
    assert add["approvedDefinition"] == add["definition"]


@pytest.mark.parametrize(
    ("auth", "required"),
    [
        ({"type": "bearer", "token": "s3cret-bearer"}, {"Authorization": "Bearer s3cret-bearer"}),
        ({"type": "header", "headerName": "X-Api-Key", "token": "s3cret-header"}, {"X-Api-Key": "s3cret-header"}),
    ],
)
async def test_connects_with_a_secret_stored_encrypted_and_never_shown(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    mutable: MutableUpstream,  # noqa: F811
    auth: dict[str, str],
    required: dict[str, str],
) -> None:
    mutable.required_headers = required
    # Without the secret the server answers 401: nothing is stored.
    refused = await client.post(
        "/api/integrations", json={"kind": "mcp", "name": "Mutable", "url": mutable.url}, headers=owner.headers
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"]["upstreamStatus"] == 401
    assert await row_count(app, Integration) == 0

    integration = await connect_remote(client, owner, mutable.url, name="Mutable", auth=auth)
    assert integration["remoteServer"]["authType"] == auth["type"]
    secret = auth["token"]
    for path in ("/api/integrations", f"/api/integrations/{integration['id']}"):
        assert secret not in (await client.get(path, headers=owner.headers)).text
    async with app.state.sessionmaker() as session:
        stored = await session.scalar(select(RemoteMcpServer))
    assert stored is not None
    assert stored.secret_encrypted is not None
    assert secret not in stored.secret_encrypted
    assert (await remote_tools(client, owner, integration["id"]))["add"]["status"] == "approved"


async def test_slugs_default_from_the_name_unique_per_team(
    client: httpx.AsyncClient,
    owner: Member,
    other_team: Member,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    first = await connect_remote(client, owner, everything_http.url, name="Everything Server!")
    second = await connect_remote(client, owner, everything_http.url, name="Everything server")
    elsewhere = await connect_remote(client, other_team, everything_http.url, name="Everything Server!")
    assert first["remoteServer"]["slug"] == "everything-server"
    assert second["remoteServer"]["slug"] == "everything-server-2"
    assert elsewhere["remoteServer"]["slug"] == "everything-server"
    # A provider's name as the slug would make its tools read as native ones.
    github = await connect_remote(client, owner, everything_http.url, name="GitHub")
    assert github["remoteServer"]["slug"] == "remote-github"

    taken = await client.post(
        "/api/integrations",
        json={"kind": "mcp", "name": "Again", "url": everything_http.url, "slug": "everything-server"},
        headers=owner.headers,
    )
    assert taken.status_code == 409, taken.text
    same_name = await client.post(
        "/api/integrations",
        json={"kind": "mcp", "name": "GitHub", "url": everything_http.url},
        headers=owner.headers,
    )
    assert same_name.status_code == 409, same_name.text


async def test_delete_removes_the_server_and_its_tools(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    integration = await connect_remote(client, owner, everything_http.url)
    assert await row_count(app, RemoteMcpTool) == EVERYTHING_TOOLS
    deleted = await client.delete(f"/api/integrations/{integration['id']}", headers=owner.headers)
    assert deleted.status_code == 200, deleted.text
    assert await row_count(app, RemoteMcpServer) == 0
    assert await row_count(app, RemoteMcpTool) == 0


async def test_the_provider_form_is_unchanged(client: httpx.AsyncClient, owner: Member) -> None:
    created = await client.post("/api/integrations", json={"provider": "github"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["oauthUrl"].startswith("http://testserver/sandbox/github/")
    # Exactly the fields it always had: no `kind`, no `remoteServer`.
    assert set(body["integration"]) == {"id", "provider", "name", "status", "scopes", "createdAt"}
    missing = await client.post("/api/integrations", json={"name": "x"}, headers=owner.headers)
    assert missing.status_code == 422
    assert [field["field"] for field in missing.json()["error"]["details"]["fields"]] == ["body.provider"]


async def test_only_admins_connect(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    add_member: Any,
    everything_http: NodeUpstream,  # noqa: F811
) -> None:
    member = await add_member(owner)
    response = await client.post(
        "/api/integrations",
        json={"kind": "mcp", "name": "Everything", "url": everything_http.url},
        headers=member.headers,
    )
    assert response.status_code == 403
    assert await row_count(app, Integration) == 0
