from typing import Any

import httpx
import pytest

from platform_server.auth.models import ApiKey
from platform_server.teams.models import Role
from tests.conftest import Member, row_count
from tests.helpers import UNKNOWN_IDS, assert_error, create, failing_fields

KEY_FIELDS = {"id", "name", "prefix", "userId", "createdAt", "lastUsedAt", "revokedAt"}


class TestCreateApiKey:
    async def test_creates_and_shows_the_secret_once(self, client: httpx.AsyncClient, owner: Member) -> None:
        created = await create(client, owner, "/api/api-keys", {"name": "CI pipeline"})
        assert set(created) == {"apiKey", "key"}
        assert set(created["apiKey"]) == KEY_FIELDS
        assert created["apiKey"]["name"] == "CI pipeline"
        assert created["apiKey"]["userId"] == owner.user_id
        assert created["key"].startswith(created["apiKey"]["prefix"])
        new = {"Authorization": f"Bearer {created['key']}"}
        assert (await client.get("/api/me", headers=new)).json()["user"]["id"] == owner.user_id
        listing = await client.get("/api/api-keys", headers=owner.headers)
        assert created["key"] not in listing.text
        assert owner.api_key not in listing.text
        assert all(set(key) == KEY_FIELDS for key in listing.json()["data"])

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "body.name"),
            ({"name": ""}, "body.name"),
            ({"name": None}, "body.name"),
            ({"name": 3}, "body.name"),
            ({"name": "x" * 201}, "body.name"),
            ({"name": "ok", "userId": "1"}, "body.userId"),
            ({"name": "ok", "key": "plat_mine"}, "body.key"),
        ],
    )
    async def test_invalid_body_changes_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, body: dict[str, Any], field: str
    ) -> None:
        assert field in failing_fields(await client.post("/api/api-keys", json=body, headers=owner.headers))
        assert await row_count(app, ApiKey) == 1

    async def test_malformed_json(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        headers = {**owner.headers, "Content-Type": "application/json"}
        assert_error(await client.post("/api/api-keys", content=b"{", headers=headers), 400, "BAD_REQUEST")
        assert await row_count(app, ApiKey) == 1


class TestRoles:
    async def test_members_see_and_revoke_only_their_own_keys(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        member: Member = await add_member(owner, Role.member)
        admin: Member = await add_member(owner, Role.admin)
        own = (await client.get("/api/api-keys", headers=member.headers)).json()
        assert [key["userId"] for key in own["data"]] == [member.user_id]
        assert own["pagination"]["total"] == 1
        everyone = (await client.get("/api/api-keys", headers=admin.headers)).json()
        assert {key["userId"] for key in everyone["data"]} == {owner.user_id, member.user_id, admin.user_id}
        assert everyone["pagination"]["total"] == 3

        owners_key = next(key for key in everyone["data"] if key["userId"] == owner.user_id)
        response = await client.delete(f"/api/api-keys/{owners_key['id']}", headers=member.headers)
        assert_error(response, 404, "NOT_FOUND")
        assert (await client.get("/api/me", headers=owner.headers)).status_code == 200

        members_key = own["data"][0]
        revoked = await client.delete(f"/api/api-keys/{members_key['id']}", headers=admin.headers)
        assert revoked.status_code == 200
        assert_error(await client.get("/api/me", headers=member.headers), 401, "UNAUTHORIZED")

    async def test_member_can_revoke_own_key(self, client: httpx.AsyncClient, owner: Member, add_member: Any) -> None:
        member: Member = await add_member(owner, Role.member)
        spare = await create(client, member, "/api/api-keys", {"name": "spare"})
        response = await client.delete(f"/api/api-keys/{spare['apiKey']['id']}", headers=member.headers)
        assert response.status_code == 200
        again = await client.delete(f"/api/api-keys/{spare['apiKey']['id']}", headers=member.headers)
        assert again.json()["revokedAt"] == response.json()["revokedAt"]
        assert (await client.get("/api/me", headers=member.headers)).status_code == 200


class TestRevoke:
    @pytest.mark.parametrize("key_id", UNKNOWN_IDS)
    async def test_unknown_id(self, client: httpx.AsyncClient, owner: Member, key_id: str) -> None:
        assert_error(await client.delete(f"/api/api-keys/{key_id}", headers=owner.headers), 404, "NOT_FOUND")

    async def test_other_teams_key_is_not_found(
        self, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        theirs = (await client.get("/api/api-keys", headers=other_team.headers)).json()["data"][0]
        assert_error(await client.delete(f"/api/api-keys/{theirs['id']}", headers=owner.headers), 404, "NOT_FOUND")
        assert (await client.get("/api/me", headers=other_team.headers)).status_code == 200

    async def test_pagination(self, client: httpx.AsyncClient, owner: Member) -> None:
        for i in range(2):
            await create(client, owner, "/api/api-keys", {"name": f"k{i}"})
        past = await client.get("/api/api-keys", params={"page": 3, "limit": 2}, headers=owner.headers)
        assert past.json() == {"data": [], "pagination": {"page": 3, "limit": 2, "total": 3, "total_pages": 2}}
        for params in ({"limit": 0}, {"limit": 101}, {"page": "abc"}):
            assert_error(await client.get("/api/api-keys", params=params, headers=owner.headers), 422,
                         "VALIDATION_ERROR")
