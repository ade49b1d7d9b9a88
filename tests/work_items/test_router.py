from typing import Any

import httpx
import pytest

from platform_server.work_items.models import WorkItem
from tests.conftest import Member, row_count
from tests.helpers import create, failing_fields
from tests.sourced_items import SourcedItemContract


class TestWorkItems(SourcedItemContract):
    path = "/api/work-items"
    model = WorkItem
    statuses = ("todo", "in_progress", "in_review", "done", "canceled")
    default_status = "todo"


async def _imported(app: Any, member: Member, provider: str, external_id: str) -> str:
    """An item as a sync would import it; the API cannot set source fields."""
    async with app.state.sessionmaker() as session, session.begin():
        item = WorkItem(
            team_id=member.team_id,
            workspace_id=member.workspace_id,
            title=f"{provider} {external_id}",
            integration_id="1234567890123456789",
            source_provider=provider,
            source_entity="issues",
            external_id=external_id,
        )
        session.add(item)
    return item.id


class TestWorkItemFields:
    async def test_labels_and_assignee(self, client: httpx.AsyncClient, owner: Member) -> None:
        body = {"workspaceId": owner.workspace_id, "title": "Bug", "labels": ["bug", "p1"], "assignee": "octocat"}
        created = await create(client, owner, "/api/work-items", body)
        assert created["labels"] == ["bug", "p1"]
        assert created["assignee"] == "octocat"
        assert created["key"] is None
        listed = (await client.get("/api/work-items", headers=owner.headers)).json()["data"]
        assert listed == [created]
        response = await client.patch(
            f"/api/work-items/{created['id']}", json={"labels": [], "assignee": None}, headers=owner.headers
        )
        assert response.json()["labels"] == []
        assert response.json()["assignee"] is None

    @pytest.mark.parametrize(
        "changes",
        [
            {"labels": "bug"},
            {"labels": [""]},
            {"labels": ["x" * 101]},
            {"labels": [str(i) for i in range(51)]},
            {"labels": [1]},
            {"labels": None},
            {"labels": ["a\x00"]},
            {"assignee": "x" * 256},
            {"assignee": 5},
        ],
    )
    async def test_invalid_labels_and_assignee(
        self, app: Any, client: httpx.AsyncClient, owner: Member, changes: dict[str, Any]
    ) -> None:
        field = f"body.{next(iter(changes))}"
        body = {"workspaceId": owner.workspace_id, "title": "Bug", **changes}
        assert any(
            f.startswith(field)
            for f in failing_fields(await client.post("/api/work-items", json=body, headers=owner.headers))
        )
        assert await row_count(app, WorkItem) == 0
        created = await create(client, owner, "/api/work-items", {"workspaceId": owner.workspace_id, "title": "Bug"})
        response = await client.patch(f"/api/work-items/{created['id']}", json=changes, headers=owner.headers)
        failing = failing_fields(response)
        assert any(f.startswith(field) for f in failing) or failing == ["body"]
        assert (await client.get(f"/api/work-items/{created['id']}", headers=owner.headers)).json() == created

    async def test_source_provider_filter(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        github = await _imported(app, owner, "github", "1")
        linear = await _imported(app, owner, "linear", "LIN-1")
        local = await create(client, owner, "/api/work-items", {"workspaceId": owner.workspace_id, "title": "Local"})

        async def ids(**params: str) -> list[str]:
            response = await client.get("/api/work-items", params=params, headers=owner.headers)
            assert response.status_code == 200
            return [item["id"] for item in response.json()["data"]]

        assert await ids(source_provider="github") == [github]
        assert await ids(source_provider="linear", workspace_id=owner.workspace_id) == [linear]
        assert await ids(source_provider="jira") == []
        assert await ids() == [local["id"], linear, github]
        item = (await client.get(f"/api/work-items/{github}", headers=owner.headers)).json()
        assert item["sourceProvider"] == "github"
        assert item["sourceEntity"] == "issues"
        assert item["externalId"] == "1"
        assert item["integrationId"] == "1234567890123456789"

    async def test_source_key_is_unique_per_workspace(self, app: Any, owner: Member) -> None:
        from sqlalchemy.exc import IntegrityError

        await _imported(app, owner, "github", "7")
        with pytest.raises(IntegrityError):
            await _imported(app, owner, "github", "7")
        assert await row_count(app, WorkItem) == 1
