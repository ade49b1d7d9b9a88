from typing import Any

import httpx
import pytest

from platform_server.models import Feature, WorkItem, Workspace
from tests.conftest import Member, row_count
from tests.helpers import UNKNOWN_IDS, assert_error, create, failing_fields


class TestCreateWorkspace:
    async def test_creates_and_lists(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.post("/api/workspaces", json={"name": "Product"}, headers=owner.headers)
        assert response.status_code == 201
        created = response.json()
        assert created["name"] == "Product"
        listing = (await client.get("/api/workspaces", headers=owner.headers)).json()
        assert [w["id"] for w in listing["data"]] == [created["id"], owner.workspace_id]
        assert listing["pagination"] == {"page": 1, "limit": 20, "total": 2, "total_pages": 1}

    async def test_missing_name_changes_nothing(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.post("/api/workspaces", json={}, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]["details"]["fields"][0]["field"] == "body.name"
        assert await row_count(app, Workspace) == 1


class TestGetWorkspace:
    async def test_other_teams_workspace_is_not_found(
        self, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        response = await client.get(f"/api/workspaces/{other_team.workspace_id}", headers=owner.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


INVALID_CREATES: list[tuple[dict[str, Any], str]] = [
    ({"name": None}, "body.name"),
    ({"name": ""}, "body.name"),
    ({"name": 5}, "body.name"),
    ({"name": "x" * 201}, "body.name"),
    ({"name": "ok", "description": "x" * 10_001}, "body.description"),
    ({"name": "ok", "description": 1}, "body.description"),
    ({"name": "ok", "owner": "me"}, "body.owner"),
    ({"name": "a\x00b"}, "body.name"),
]


class TestWorkspaceValidation:
    @pytest.mark.parametrize(("body", "field"), INVALID_CREATES)
    async def test_invalid_create_changes_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, body: dict[str, Any], field: str
    ) -> None:
        response = await client.post("/api/workspaces", json=body, headers=owner.headers)
        assert field in failing_fields(response)
        assert await row_count(app, Workspace) == 1

    async def test_malformed_json(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        headers = {**owner.headers, "Content-Type": "application/json"}
        response = await client.post("/api/workspaces", content=b"{'name': 'x'}", headers=headers)
        assert_error(response, 400, "BAD_REQUEST")
        assert await row_count(app, Workspace) == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": None}, "body"),
            ({"name": ""}, "body.name"),
            ({"name": "x" * 201}, "body.name"),
            ({"name": ["x"]}, "body.name"),
            ({"teamId": "1"}, "body.teamId"),
        ],
    )
    async def test_invalid_update_changes_nothing(
        self, client: httpx.AsyncClient, owner: Member, body: dict[str, Any], field: str
    ) -> None:
        url = f"/api/workspaces/{owner.workspace_id}"
        before = (await client.get(url, headers=owner.headers)).json()
        assert field in failing_fields(await client.patch(url, json=body, headers=owner.headers))
        assert (await client.get(url, headers=owner.headers)).json() == before


class TestWorkspaceLifecycle:
    async def test_get_update_delete(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        created = await create(client, owner, "/api/workspaces", {"name": "Ops", "description": "Runbooks"})
        assert created["description"] == "Runbooks"
        assert created["createdAt"].endswith("Z")
        url = f"/api/workspaces/{created['id']}"
        assert (await client.get(url, headers=owner.headers)).json() == created
        patched = await client.patch(url, json={"description": None}, headers=owner.headers)
        assert patched.status_code == 200
        assert patched.json()["description"] is None
        assert patched.json()["name"] == "Ops"
        patched = await client.patch(url, json={"name": "Operations"}, headers=owner.headers)
        assert patched.json()["name"] == "Operations"
        assert (await client.get(url, headers=owner.headers)).json() == patched.json()
        deleted = await client.delete(url, headers=owner.headers)
        assert deleted.json() == {"message": "Workspace deleted"}
        assert_error(await client.get(url, headers=owner.headers), 404, "NOT_FOUND")
        assert await row_count(app, Workspace) == 1

    async def test_delete_removes_its_items(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        doomed = await create(client, owner, "/api/workspaces", {"name": "Doomed"})
        for path in ("/api/features", "/api/work-items"):
            await create(client, owner, path, {"workspaceId": doomed["id"], "title": "Gone"})
            await create(client, owner, path, {"workspaceId": owner.workspace_id, "title": "Kept"})
        assert (await client.delete(f"/api/workspaces/{doomed['id']}", headers=owner.headers)).status_code == 200
        assert await row_count(app, Feature) == 1
        assert await row_count(app, WorkItem) == 1

    @pytest.mark.parametrize("workspace_id", UNKNOWN_IDS)
    async def test_unknown_id(self, client: httpx.AsyncClient, owner: Member, workspace_id: str) -> None:
        url = f"/api/workspaces/{workspace_id}"
        assert_error(await client.get(url, headers=owner.headers), 404, "NOT_FOUND")
        assert_error(await client.patch(url, json={"name": "x"}, headers=owner.headers), 404, "NOT_FOUND")
        assert_error(await client.delete(url, headers=owner.headers), 404, "NOT_FOUND")

    async def test_other_teams_workspace_cannot_be_changed(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        url = f"/api/workspaces/{other_team.workspace_id}"
        before = (await client.get(url, headers=other_team.headers)).json()
        assert_error(await client.patch(url, json={"name": "Mine"}, headers=owner.headers), 404, "NOT_FOUND")
        assert_error(await client.delete(url, headers=owner.headers), 404, "NOT_FOUND")
        assert (await client.get(url, headers=other_team.headers)).json() == before
        assert await row_count(app, Workspace) == 2
        listing = (await client.get("/api/workspaces", headers=owner.headers)).json()
        assert [w["id"] for w in listing["data"]] == [owner.workspace_id]

    async def test_pagination_edges(self, client: httpx.AsyncClient, owner: Member) -> None:
        for i in range(4):
            await create(client, owner, "/api/workspaces", {"name": f"W{i}"})
        past = await client.get("/api/workspaces", params={"page": 4, "limit": 2}, headers=owner.headers)
        assert past.json() == {"data": [], "pagination": {"page": 4, "limit": 2, "total": 5, "total_pages": 3}}
        last = await client.get("/api/workspaces", params={"page": 3, "limit": 2}, headers=owner.headers)
        assert [w["id"] for w in last.json()["data"]] == [owner.workspace_id]
        full = await client.get("/api/workspaces", params={"limit": 100}, headers=owner.headers)
        assert full.json()["pagination"] == {"page": 1, "limit": 100, "total": 5, "total_pages": 1}
        for params in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"page": -1}, {"page": "abc"}, {"limit": ""}):
            response = await client.get("/api/workspaces", params=params, headers=owner.headers)
            assert failing_fields(response) == [f"query.{next(iter(params))}"]
