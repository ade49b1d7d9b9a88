from typing import Any

import httpx

from platform_server.models import Workspace
from tests.conftest import Member, row_count


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
