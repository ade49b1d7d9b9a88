"""The contract features and work items share: CRUD, validation, tenancy, filters and pagination.

Each test module subclasses `SourcedItemContract` with the resource's path, model and statuses.
"""

from typing import Any, ClassVar

import httpx
import pytest

from tests.conftest import Member, row_count
from tests.helpers import UNKNOWN_IDS, assert_error, create, failing_fields

# (case, changes to a valid create body, keys to drop, the failing field)
INVALID_CREATES: list[tuple[str, dict[str, Any], tuple[str, ...], str]] = [
    ("missing title", {}, ("title",), "body.title"),
    ("missing workspace", {}, ("workspaceId",), "body.workspaceId"),
    ("title wrong type", {"title": 123}, (), "body.title"),
    ("title null", {"title": None}, (), "body.title"),
    ("title empty", {"title": ""}, (), "body.title"),
    ("title too long", {"title": "x" * 501}, (), "body.title"),
    ("title with NUL", {"title": "a\x00b"}, (), "body.title"),
    ("description too long", {"description": "x" * 100_001}, (), "body.description"),
    ("description wrong type", {"description": ["a"]}, (), "body.description"),
    ("status unknown", {"status": "bogus"}, (), "body.status"),
    ("status null", {"status": None}, (), "body.status"),
    ("priority unknown", {"priority": "extreme"}, (), "body.priority"),
    ("priority null", {"priority": None}, (), "body.priority"),
    ("url too long", {"url": "u" * 2001}, (), "body.url"),
    ("unknown field", {"color": "red"}, (), "body.color"),
    ("workspace id not digits", {"workspaceId": "abc"}, (), "body.workspaceId"),
    ("workspace id wrong type", {"workspaceId": 12}, (), "body.workspaceId"),
    ("workspace id null", {"workspaceId": None}, (), "body.workspaceId"),
    ("workspace id too long", {"workspaceId": "1" * 21}, (), "body.workspaceId"),
]

INVALID_UPDATES: list[tuple[str, dict[str, Any], str]] = [
    ("title null", {"title": None}, "body"),
    ("status null", {"status": None}, "body"),
    ("priority null", {"priority": None}, "body"),
    ("title empty", {"title": ""}, "body.title"),
    ("title wrong type", {"title": False}, "body.title"),
    ("title too long", {"title": "x" * 501}, "body.title"),
    ("status unknown", {"status": "bogus"}, "body.status"),
    ("url too long", {"url": "u" * 2001}, "body.url"),
    ("unknown field", {"color": "red"}, "body.color"),
    ("workspace is not movable", {"workspaceId": "1234567890123456789"}, "body.workspaceId"),
]


class SourcedItemContract:
    path: ClassVar[str]
    model: ClassVar[type[Any]]
    statuses: ClassVar[tuple[str, ...]]
    default_status: ClassVar[str]

    def body(self, member: Member, **overrides: Any) -> dict[str, Any]:
        return {"workspaceId": member.workspace_id, "title": "Single sign-on", **overrides}

    async def test_full_lifecycle(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        body = self.body(
            owner, description="SAML", status=self.statuses[1], priority="high", url="https://example.com/1"
        )
        created = await create(client, owner, self.path, body)
        for field, value in body.items():
            assert created[field] == value
        assert created["id"].isdigit()
        assert created["createdAt"].endswith("Z")
        for field in ("integrationId", "sourceProvider", "sourceEntity", "externalId", "sourceUpdatedAt"):
            assert created[field] is None

        fetched = await client.get(f"{self.path}/{created['id']}", headers=owner.headers)
        assert fetched.status_code == 200
        assert fetched.json() == created
        listed = await client.get(self.path, params={"workspace_id": owner.workspace_id}, headers=owner.headers)
        assert listed.json()["data"] == [created]

        updated = await client.patch(
            f"{self.path}/{created['id']}",
            json={"title": "SSO", "status": self.statuses[-1], "description": None},
            headers=owner.headers,
        )
        assert updated.status_code == 200, updated.text
        expected = {**created, "title": "SSO", "status": self.statuses[-1], "description": None}
        assert {k: v for k, v in updated.json().items() if k != "updatedAt"} == {
            k: v for k, v in expected.items() if k != "updatedAt"
        }
        assert updated.json()["updatedAt"] >= created["updatedAt"]
        assert (await client.get(f"{self.path}/{created['id']}", headers=owner.headers)).json() == updated.json()

        deleted = await client.delete(f"{self.path}/{created['id']}", headers=owner.headers)
        assert deleted.status_code == 200
        assert set(deleted.json()) == {"message"}
        assert_error(await client.get(f"{self.path}/{created['id']}", headers=owner.headers), 404, "NOT_FOUND")
        assert await row_count(app, self.model) == 0

    async def test_create_defaults(self, client: httpx.AsyncClient, owner: Member) -> None:
        created = await create(client, owner, self.path, self.body(owner))
        assert created["status"] == self.default_status
        assert created["priority"] == "none"
        assert created["description"] is None
        assert created["url"] is None

    async def test_empty_patch_changes_nothing(self, client: httpx.AsyncClient, owner: Member) -> None:
        created = await create(client, owner, self.path, self.body(owner))
        response = await client.patch(f"{self.path}/{created['id']}", json={}, headers=owner.headers)
        assert response.status_code == 200
        assert response.json() == created

    @pytest.mark.parametrize(("case", "changes", "drop", "field"), INVALID_CREATES, ids=[c[0] for c in INVALID_CREATES])
    async def test_invalid_create(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        case: str,
        changes: dict[str, Any],
        drop: tuple[str, ...],
        field: str,
    ) -> None:
        body = {k: v for k, v in self.body(owner, **changes).items() if k not in drop}
        response = await client.post(self.path, json=body, headers=owner.headers)
        assert field in failing_fields(response), case
        assert await row_count(app, self.model) == 0

    @pytest.mark.parametrize("payload", [[], "title", 42, None])
    async def test_body_not_an_object(self, app: Any, client: httpx.AsyncClient, owner: Member, payload: Any) -> None:
        response = await client.post(self.path, json=payload, headers=owner.headers)
        assert_error(response, 422, "VALIDATION_ERROR")
        assert await row_count(app, self.model) == 0

    async def test_malformed_json(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        headers = {**owner.headers, "Content-Type": "application/json"}
        response = await client.post(self.path, content=b'{"title": "x",', headers=headers)
        assert_error(response, 400, "BAD_REQUEST")
        assert await row_count(app, self.model) == 0
        created = await create(client, owner, self.path, self.body(owner))
        response = await client.patch(f"{self.path}/{created['id']}", content=b"{nope", headers=headers)
        assert_error(response, 400, "BAD_REQUEST")
        assert (await client.get(f"{self.path}/{created['id']}", headers=owner.headers)).json() == created

    @pytest.mark.parametrize("workspace_id", UNKNOWN_IDS[:1])
    async def test_create_in_unknown_workspace(
        self, app: Any, client: httpx.AsyncClient, owner: Member, workspace_id: str
    ) -> None:
        response = await client.post(self.path, json=self.body(owner, workspaceId=workspace_id), headers=owner.headers)
        assert_error(response, 404, "NOT_FOUND")
        assert await row_count(app, self.model) == 0

    async def test_create_in_other_teams_workspace(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        response = await client.post(self.path, json=self.body(other_team), headers=owner.headers)
        missing = await client.post(
            self.path, json=self.body(owner, workspaceId="1234567890123456789"), headers=owner.headers
        )
        error = assert_error(response, 404, "NOT_FOUND")
        assert error["message"].replace(other_team.workspace_id, "ID") == assert_error(missing, 404, "NOT_FOUND")[
            "message"
        ].replace("1234567890123456789", "ID")
        assert await row_count(app, self.model) == 0

    @pytest.mark.parametrize("item_id", UNKNOWN_IDS)
    async def test_unknown_id(self, client: httpx.AsyncClient, owner: Member, item_id: str) -> None:
        url = f"{self.path}/{item_id}"
        assert_error(await client.get(url, headers=owner.headers), 404, "NOT_FOUND")
        assert_error(await client.patch(url, json={"title": "x"}, headers=owner.headers), 404, "NOT_FOUND")
        assert_error(await client.delete(url, headers=owner.headers), 404, "NOT_FOUND")

    async def test_other_teams_item_is_not_found(
        self, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        theirs = await create(client, other_team, self.path, self.body(other_team))
        url = f"{self.path}/{theirs['id']}"
        assert_error(await client.get(url, headers=owner.headers), 404, "NOT_FOUND")
        assert_error(await client.patch(url, json={"title": "mine"}, headers=owner.headers), 404, "NOT_FOUND")
        assert_error(await client.delete(url, headers=owner.headers), 404, "NOT_FOUND")
        assert (await client.get(url, headers=other_team.headers)).json() == theirs
        listing = (await client.get(self.path, headers=owner.headers)).json()
        assert listing["data"] == []
        assert listing["pagination"]["total"] == 0

    @pytest.mark.parametrize(("case", "changes", "field"), INVALID_UPDATES, ids=[c[0] for c in INVALID_UPDATES])
    async def test_invalid_update_changes_nothing(
        self, client: httpx.AsyncClient, owner: Member, case: str, changes: dict[str, Any], field: str
    ) -> None:
        created = await create(client, owner, self.path, self.body(owner))
        response = await client.patch(f"{self.path}/{created['id']}", json=changes, headers=owner.headers)
        assert field in failing_fields(response), case
        assert (await client.get(f"{self.path}/{created['id']}", headers=owner.headers)).json() == created

    async def test_list_filters(self, client: httpx.AsyncClient, owner: Member, other_team: Member) -> None:
        second_workspace = await create(client, owner, "/api/workspaces", {"name": "Second"})
        first = await create(client, owner, self.path, self.body(owner, status=self.statuses[0]))
        second = await create(client, owner, self.path, self.body(owner, status=self.statuses[1]))
        elsewhere = await create(
            client, owner, self.path, self.body(owner, workspaceId=second_workspace["id"], status=self.statuses[1])
        )
        await create(client, other_team, self.path, self.body(other_team, status=self.statuses[1]))

        async def ids(**params: str) -> list[str]:
            response = await client.get(self.path, params=params, headers=owner.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["pagination"]["total"] == len(body["data"])
            return [item["id"] for item in body["data"]]

        assert await ids() == [elsewhere["id"], second["id"], first["id"]]
        assert await ids(workspace_id=owner.workspace_id) == [second["id"], first["id"]]
        assert await ids(workspace_id=owner.workspace_id, status=self.statuses[1]) == [second["id"]]
        assert await ids(status=self.statuses[1]) == [elsewhere["id"], second["id"]]
        assert await ids(status=self.statuses[-1]) == []

    async def test_list_bad_filters(self, client: httpx.AsyncClient, owner: Member, other_team: Member) -> None:
        response = await client.get(self.path, params={"status": "bogus"}, headers=owner.headers)
        assert failing_fields(response) == ["query.status"]
        for workspace_id in (*UNKNOWN_IDS, other_team.workspace_id):
            response = await client.get(self.path, params={"workspace_id": workspace_id}, headers=owner.headers)
            assert_error(response, 404, "NOT_FOUND")

    async def test_list_pagination(self, client: httpx.AsyncClient, owner: Member) -> None:
        created = [await create(client, owner, self.path, self.body(owner, title=f"T{i}")) for i in range(3)]
        newest_first = [item["id"] for item in reversed(created)]

        async def page(**params: int) -> dict[str, Any]:
            response = await client.get(self.path, params=params, headers=owner.headers)
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            return body

        first, second, past = await page(limit=2), await page(limit=2, page=2), await page(limit=2, page=5)
        assert [item["id"] for item in first["data"] + second["data"]] == newest_first
        assert first["pagination"] == {"page": 1, "limit": 2, "total": 3, "total_pages": 2}
        assert past == {"data": [], "pagination": {"page": 5, "limit": 2, "total": 3, "total_pages": 2}}
        for params in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"page": "abc"}, {"limit": "1.5"}):
            response = await client.get(self.path, params=params, headers=owner.headers)
            assert_error(response, 422, "VALIDATION_ERROR")
