"""Every resource against the live sandbox server, through the sync and the async client."""

import asyncio
import socket
from typing import Any

import httpx
import pytest

from platform_api import AsyncPlatformClient, PlatformClient, PlatformError, ResponseInfo
from tests.conftest import RATE_LIMIT, Server, connect


def test_features_crud_and_iteration(client: PlatformClient, workspace_id: str) -> None:
    created = [client.features.create(workspaceId=workspace_id, title=f"F{n}") for n in range(5)]
    assert created[0]["status"] == "backlog"
    assert client.features.get(created[0]["id"])["title"] == "F0"
    updated = client.features.update(created[0]["id"], status="done", priority="high")
    assert (updated["status"], updated["priority"]) == ("done", "high")

    first = client.features.list(workspace_id=workspace_id, limit=2)
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 5, "total_pages": 3}
    iterated = [item["id"] for item in client.features.iterate(workspace_id=workspace_id, limit=2)]
    assert sorted(iterated) == sorted(item["id"] for item in created)
    assert [item["id"] for item in client.features.iterate(workspace_id=workspace_id, status="done")] == [
        created[0]["id"]
    ]

    assert "message" in client.features.delete(created[1]["id"])
    with pytest.raises(PlatformError) as gone:
        client.features.get(created[1]["id"])
    assert gone.value.status == 404


def test_work_items_crud(client: PlatformClient, workspace_id: str) -> None:
    item = client.work_items.create(workspaceId=workspace_id, title="Bug", labels=["ui"], status="todo")
    assert client.work_items.update(item["id"], status="in_review")["status"] == "in_review"
    assert client.work_items.get(item["id"])["labels"] == ["ui"]
    listed = client.work_items.list(workspace_id=workspace_id, status="in_review")
    assert [row["id"] for row in listed["data"]] == [item["id"]]
    assert [row["id"] for row in client.work_items.iterate(workspace_id=workspace_id)] == [item["id"]]
    assert "message" in client.work_items.delete(item["id"])
    assert client.work_items.list(workspace_id=workspace_id)["pagination"]["total"] == 0


def test_workspaces(client: PlatformClient, server: Server) -> None:
    workspace = client.workspaces.create(name="Scratch", description="for the test")
    assert client.workspaces.update(workspace["id"], name="Renamed")["name"] == "Renamed"
    assert client.workspaces.get(workspace["id"])["description"] == "for the test"
    ids = [row["id"] for row in client.workspaces.iterate(limit=1)]
    assert {workspace["id"], server.workspace_id} <= set(ids)
    assert len(ids) == len(set(ids)) == client.workspaces.list()["pagination"]["total"]
    client.workspaces.delete(workspace["id"])
    with pytest.raises(PlatformError) as gone:
        client.workspaces.get(workspace["id"])
    assert (gone.value.status, gone.value.code) == (404, "NOT_FOUND")


def test_api_keys_create_use_and_revoke(client: PlatformClient, server: Server) -> None:
    created = client.api_keys.create(name="ci")
    assert created["key"].startswith("plat_")
    with PlatformClient(api_key=created["key"], base_url=server.base_url) as second:
        assert second.me.get()["user"]["email"] == "sdk@example.com"
        assert created["apiKey"]["id"] in [row["id"] for row in client.api_keys.iterate(limit=1)]
        assert client.api_keys.revoke(created["apiKey"]["id"])["revokedAt"] is not None
        with pytest.raises(PlatformError) as refused:
            second.me.get()
    assert (refused.value.status, refused.value.code) == (401, "UNAUTHORIZED")


def test_me_usage_billing_users_providers(client: PlatformClient, server: Server) -> None:
    me = client.me.get()
    assert (me["team"]["id"], me["user"]["role"], me["plan"]["name"]) == (server.team_id, "owner", "free")
    usage = client.usage.get()
    assert usage["plan"] == "free"
    assert usage["rateLimit"]["limit"] == RATE_LIMIT
    assert client.billing.get()["plan"] == "free"
    invited = client.users.create(email="member@example.com", name="Member")
    assert invited["user"]["role"] == "member"
    assert "member@example.com" in [user["email"] for user in client.users.iterate()]
    assert client.users.list(limit=1)["pagination"]["total"] >= 2
    catalog = client.integrations.providers()
    assert {provider["provider"] for provider in catalog["providers"]} >= {"github", "jira", "linear"}


def test_integrations_tools_and_audit(server: Server, client: PlatformClient, workspace_id: str) -> None:
    integration_id = connect(server, client, "github")
    listed = client.integrations.list(provider="github", status="connected")
    assert integration_id in [row["id"] for row in listed["integrations"]]
    assert integration_id in [row["id"] for row in client.integrations.iterate(limit=1)]
    assert client.integrations.get(integration_id)["status"] == "connected"

    enabled = client.workspace_integrations.enable(
        workspace_id, integrationId=integration_id, defaultProject="acme/mobile"
    )
    assert enabled["accessId"]
    [access] = client.workspace_integrations.list(workspace_id)["integrations"]
    assert (access["id"], access["enabled"]) == (integration_id, True)
    assert access["defaultProject"] == "acme/mobile"
    tools = access["enabledTools"]
    assert "github_list_repos" in tools
    updated = client.workspace_integrations.update(
        workspace_id, integration_id, enabledTools=["github_list_repos"]
    )
    assert updated["enabledTools"] == ["github_list_repos"]
    assert [row["id"] for row in client.workspace_integrations.iterate(workspace_id)] == [integration_id]

    result = client.tools.call(workspace_id, "github_list_repos", {})
    assert result["tool"] == "github_list_repos"
    assert isinstance(result["result"], dict)
    with pytest.raises(PlatformError) as disabled:
        client.tools.call(workspace_id, "github_list_issues", {"repo": "acme/product"})
    assert disabled.value.status in (403, 404)
    audit = client.tools.list_calls(workspace_id, tool="github_list_repos")
    assert [row["id"] for row in audit["data"]] == [result["toolCallId"]]
    assert len(list(client.tools.iterate_calls(workspace_id, limit=1))) == 2

    synced = client.integrations.sync(
        integration_id,
        syncType="import",
        workspaceId=workspace_id,
        sourceEntity="issues",
        targetEntity="work_items",
    )
    assert synced["status"] == "completed"
    imported = list(client.work_items.iterate(workspace_id=workspace_id, source_provider="github", limit=5))
    assert len(imported) == synced.get("itemsSynced")
    assert client.integrations.get(integration_id)["syncLogs"][0]["id"] == synced["syncLogId"]

    assert "message" in client.workspace_integrations.disable(workspace_id, integration_id)
    assert client.workspace_integrations.list(workspace_id)["count"] == 0
    assert "message" in client.integrations.delete(integration_id)
    with pytest.raises(PlatformError) as gone:
        client.integrations.get(integration_id)
    assert gone.value.status == 404


def test_errors_carry_status_code_message_details_and_request_id(client: PlatformClient) -> None:
    with pytest.raises(PlatformError) as invalid:
        client.features.create(workspaceId="1", title="")
    error = invalid.value
    assert (error.status, error.code) == (422, "VALIDATION_ERROR")
    assert error.message
    assert error.details
    assert error.request_id
    assert error.response is not None
    assert error.response.request_id == error.request_id
    assert error.rate_limit is not None
    assert error.rate_limit.limit == RATE_LIMIT


def test_rate_limit_headers_on_every_response(server: Server) -> None:
    seen: list[ResponseInfo] = []
    with PlatformClient(api_key=server.api_key, base_url=server.base_url, on_response=seen.append) as client:
        client.me.get()
        with pytest.raises(PlatformError):
            client.features.get("1")
        assert client.last_response is seen[-1]
    assert [info.status for info in seen] == [200, 404]
    for info in seen:
        assert info.rate_limit.limit == RATE_LIMIT
        assert info.rate_limit.remaining is not None
        assert info.rate_limit.remaining < RATE_LIMIT
        assert info.rate_limit.reset is not None
        assert info.request_id


def test_key_and_base_url_from_the_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_API_KEY", server.api_key)
    monkeypatch.setenv("PLATFORM_BASE_URL", server.base_url + "/")
    with PlatformClient() as client:
        assert client.base_url == server.base_url
        assert client.me.get()["team"]["id"] == server.team_id
    monkeypatch.delenv("PLATFORM_API_KEY")
    with pytest.raises(ValueError, match="PLATFORM_API_KEY"):
        PlatformClient()


def test_a_wrong_key_is_unauthorized(server: Server) -> None:
    client = PlatformClient(api_key="plat_wrong", base_url=server.base_url)
    with client, pytest.raises(PlatformError) as error:
        client.me.get()
    assert (error.value.status, error.value.code) == (401, "UNAUTHORIZED")


def test_async_client_has_the_same_surface(server: Server, workspace_id: str) -> None:
    def public(cls: type[Any]) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_")}

    async def scenario() -> tuple[str, list[str]]:
        async with AsyncPlatformClient(api_key=server.api_key, base_url=server.base_url) as client:
            assert public(type(client)) == (public(PlatformClient) - {"close"}) | {"aclose"}
            with PlatformClient(api_key="k") as sync:
                for name, resource in vars(sync).items():
                    if not name.startswith("_"):
                        assert public(type(getattr(client, name))) == public(type(resource)), name
            created = await asyncio.gather(
                *(client.features.create(workspaceId=workspace_id, title=f"A{n}") for n in range(3))
            )
            me = await client.me.get()
            pages = client.features.iterate(workspace_id=workspace_id, limit=2)
            titles = [item["title"] async for item in pages]
            assert len(created) == 3
            return me["user"]["email"], sorted(titles)

    assert asyncio.run(scenario()) == ("sdk@example.com", ["A0", "A1", "A2"])


def test_an_unreachable_server_raises_a_connection_error() -> None:
    with socket.socket() as listener:
        # Listening without accepting: the kernel takes the connection, nobody answers, every read times out.
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with PlatformClient(
            api_key="k", base_url=base_url, timeout=0.2, max_retries=1, max_retry_delay=0.01
        ) as client, pytest.raises(PlatformError) as error:
            client.me.get()
    assert (error.value.status, error.value.code) == (0, "CONNECTION_ERROR")
    assert isinstance(error.value.__cause__, httpx.TimeoutException)


def test_assistant_messages_and_conversations(client: PlatformClient, workspace_id: str) -> None:
    reply = client.assistant.send(workspace_id, message="Which issues are open?")
    assert reply["reply"]
    conversation_id = reply["conversationId"]
    follow_up = client.assistant.send(workspace_id, message="And closed?", conversationId=conversation_id)
    assert follow_up["conversationId"] == conversation_id
    listed = client.assistant.list_conversations(workspace_id)
    assert [row["id"] for row in listed["data"]] == [conversation_id]
    iterated = client.assistant.iterate_conversations(workspace_id, limit=1)
    assert [row["id"] for row in iterated] == [conversation_id]
    messages = list(client.assistant.iterate_messages(workspace_id, conversation_id, limit=1))
    assert [message["role"] for message in messages] == ["user", "assistant", "user", "assistant"]
    total = client.assistant.list_messages(workspace_id, conversation_id, limit=1)["pagination"]["total"]
    assert total == len(messages)
