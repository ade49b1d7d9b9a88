from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from platform_server.integrations.models import WorkspaceIntegration
from platform_server.teams.models import Role
from tests.conftest import Member, row_count
from tests.integrations.helpers import connect, start

GITHUB_TOOLS = ["github_list_repos", "github_list_issues", "github_create_issue", "github_list_pull_requests"]
ITEM_KEYS = {
    "id",
    "provider",
    "name",
    "status",
    "enabled",
    "enabledTools",
    "defaultProject",
    "syncIntervalMinutes",
    "nextSyncAt",
}


def _url(member: Member, workspace_id: str | None = None) -> str:
    return f"/api/workspaces/{workspace_id or member.workspace_id}/integrations"


async def _enable(client: httpx.AsyncClient, member: Member, body: dict[str, Any]) -> httpx.Response:
    return await client.post(_url(member), json=body, headers=member.headers)


class TestEnable:
    async def test_enable_list_reenable(self, client: httpx.AsyncClient, owner: Member) -> None:
        github = await connect(client, owner, "github")
        response = await _enable(
            client,
            owner,
            {
                "integrationId": github.id,
                "enabledTools": ["github_list_repos", "github_list_issues"],
                "defaultProject": "acme/product",
            },
        )
        assert response.status_code == 201
        assert response.json()["message"] == "Integration enabled for workspace"
        access_id = response.json()["accessId"]
        assert set(response.json()) == {"message", "accessId"}

        body = (await client.get(_url(owner), headers=owner.headers)).json()
        assert set(body) == {"integrations", "count", "pagination"}
        assert body["count"] == 1
        [item] = body["integrations"]
        assert set(item) == ITEM_KEYS
        assert item == {
            "id": github.id,
            "provider": "github",
            "name": "GitHub",
            "status": "connected",
            "enabled": True,
            "enabledTools": ["github_list_repos", "github_list_issues"],
            "defaultProject": "acme/product",
            "syncIntervalMinutes": None,
            "nextSyncAt": None,
        }

        again = await _enable(client, owner, {"integrationId": github.id, "enabledTools": ["github_create_issue"]})
        assert again.status_code == 200
        assert again.json()["accessId"] == access_id
        [item] = (await client.get(_url(owner), headers=owner.headers)).json()["integrations"]
        assert item["enabledTools"] == ["github_create_issue"]
        assert item["defaultProject"] == "acme/product"

    async def test_omitted_tools_means_all(self, client: httpx.AsyncClient, owner: Member) -> None:
        github = await connect(client, owner, "github")
        assert (await _enable(client, owner, {"integrationId": github.id})).status_code == 201
        [item] = (await client.get(_url(owner), headers=owner.headers)).json()["integrations"]
        assert sorted(item["enabledTools"]) == sorted(GITHUB_TOOLS)
        assert item["defaultProject"] is None

    async def test_unknown_tools_are_named(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        github = await connect(client, owner, "github")
        response = await _enable(
            client, owner, {"integrationId": github.id, "enabledTools": ["github_list_repos", "jira_list_issues"]}
        )
        assert response.status_code == 422
        assert "jira_list_issues" in response.json()["error"]["message"]
        assert response.json()["error"]["details"]["unknownTools"] == ["jira_list_issues"]
        assert await row_count(app, WorkspaceIntegration) == 0

    async def test_only_connected_integrations(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        pending = await start(client, owner, "github")
        response = await _enable(client, owner, {"integrationId": pending.id})
        assert response.status_code == 409
        assert await row_count(app, WorkspaceIntegration) == 0

    async def test_one_per_provider(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        first = await connect(client, owner, "github", login="acme-corp")
        second = await connect(client, owner, "github", login="globex-corp", name="Globex")
        assert (await _enable(client, owner, {"integrationId": first.id})).status_code == 201
        response = await _enable(client, owner, {"integrationId": second.id})
        assert response.status_code == 409
        assert await row_count(app, WorkspaceIntegration) == 1

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"integrationId": 12},
            {"integrationId": "abc"},
            {"integrationId": "123", "enabledTools": "github_list_repos"},
            {"integrationId": "123", "defaultProject": ""},
            {"integrationId": "123", "extra": 1},
        ],
    )
    async def test_invalid_bodies(self, app: Any, client: httpx.AsyncClient, owner: Member, body: Any) -> None:
        response = await _enable(client, owner, body)
        assert response.status_code == 422
        assert await row_count(app, WorkspaceIntegration) == 0

    async def test_malformed_json(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.post(
            _url(owner), content=b"{", headers={**owner.headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 400

    async def test_unknown_and_foreign_ids(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        mine = await connect(client, owner, "github")
        theirs = await connect(client, other_team, "github")
        assert (await _enable(client, owner, {"integrationId": "123"})).status_code == 404
        assert (await _enable(client, owner, {"integrationId": theirs.id})).status_code == 404
        response = await client.post(
            _url(owner, other_team.workspace_id), json={"integrationId": mine.id}, headers=owner.headers
        )
        assert response.status_code == 404
        assert (await client.get(_url(owner, other_team.workspace_id), headers=owner.headers)).status_code == 404
        assert (await client.get(_url(owner, "999"), headers=owner.headers)).status_code == 404
        assert await row_count(app, WorkspaceIntegration) == 0

    async def test_roles(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        add_member: Callable[..., Coroutine[Any, Any, Member]],
    ) -> None:
        github = await connect(client, owner, "github")
        member = await add_member(owner, Role.member)
        assert (await _enable(client, member, {"integrationId": github.id})).status_code == 403
        assert await row_count(app, WorkspaceIntegration) == 0
        assert (await _enable(client, owner, {"integrationId": github.id})).status_code == 201
        assert (await client.get(_url(member), headers=member.headers)).json()["count"] == 1
        patch = await client.patch(f"{_url(member)}/{github.id}", json={"enabled": False}, headers=member.headers)
        assert patch.status_code == 403
        assert (await client.delete(f"{_url(member)}/{github.id}", headers=member.headers)).status_code == 403


class TestUpdateAndDisable:
    async def test_patch_then_delete(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        github = await connect(client, owner, "github")
        await _enable(client, owner, {"integrationId": github.id, "defaultProject": "acme/product"})
        response = await client.patch(
            f"{_url(owner)}/{github.id}",
            json={"enabled": False, "enabledTools": ["github_list_issues"], "defaultProject": None},
            headers=owner.headers,
        )
        assert response.status_code == 200
        body = response.json()
        assert set(body) == ITEM_KEYS
        assert body["enabled"] is False
        assert body["enabledTools"] == ["github_list_issues"]
        assert body["defaultProject"] is None

        response = await client.delete(f"{_url(owner)}/{github.id}", headers=owner.headers)
        assert response.status_code == 200
        assert response.json() == {"message": "Integration disabled for workspace"}
        assert await row_count(app, WorkspaceIntegration) == 0
        assert (await client.delete(f"{_url(owner)}/{github.id}", headers=owner.headers)).status_code == 404

    @pytest.mark.parametrize(
        "body",
        [{"enabled": None}, {"enabled": "maybe"}, {"enabledTools": None}, {"enabledTools": ["nope"]}, {"x": 1}],
    )
    async def test_invalid_patches_change_nothing(
        self, client: httpx.AsyncClient, owner: Member, body: dict[str, Any]
    ) -> None:
        github = await connect(client, owner, "github")
        await _enable(client, owner, {"integrationId": github.id})
        response = await client.patch(f"{_url(owner)}/{github.id}", json=body, headers=owner.headers)
        assert response.status_code == 422
        [item] = (await client.get(_url(owner), headers=owner.headers)).json()["integrations"]
        assert item["enabled"] is True
        assert len(item["enabledTools"]) == 4

    async def test_not_enabled_is_not_found(self, client: httpx.AsyncClient, owner: Member) -> None:
        github = await connect(client, owner, "github")
        response = await client.patch(f"{_url(owner)}/{github.id}", json={"enabled": False}, headers=owner.headers)
        assert response.status_code == 404
