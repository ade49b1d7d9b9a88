import asyncio
from typing import Any

import httpx
import pytest

from platform_server.auth.models import ApiKey
from platform_server.auth.principal import Principal
from platform_server.auth.service import api_key_service
from platform_server.errors import Conflict
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
        assert_error(response, 403, "FORBIDDEN")
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


class TestOwnerKeys:
    async def test_an_admin_cannot_revoke_an_owners_key(
        self, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        admin: Member = await add_member(owner, Role.admin)
        keys = (await client.get("/api/api-keys", headers=owner.headers)).json()["data"]
        owners_key = next(key for key in keys if key["userId"] == owner.user_id)
        error = assert_error(
            await client.delete(f"/api/api-keys/{owners_key['id']}", headers=admin.headers), 403, "FORBIDDEN"
        )
        assert error["message"] == "Only an owner can revoke an owner's API key"
        assert (await client.get("/api/me", headers=owner.headers)).status_code == 200

    async def test_the_last_active_owner_key_cannot_be_revoked(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        admin: Member = await add_member(owner, Role.admin)
        keys = (await client.get("/api/api-keys", headers=owner.headers)).json()["data"]
        own = next(key for key in keys if key["userId"] == owner.user_id)
        error = assert_error(await client.delete(f"/api/api-keys/{own['id']}", headers=owner.headers), 409, "CONFLICT")
        assert "platform-server issue-key" in error["message"]
        assert (await client.get("/api/me", headers=owner.headers)).status_code == 200
        assert await row_count(app, ApiKey) == 2
        keys_after = (await client.get("/api/api-keys", headers=owner.headers)).json()["data"]
        assert all(key["revokedAt"] is None for key in keys_after)
        # Admins' and members' keys are not the owners' way in: an admin may still revoke their own last key.
        admins = (await client.get("/api/api-keys", headers=admin.headers)).json()["data"]
        admins_key = next(key for key in admins if key["userId"] == admin.user_id)
        assert (await client.delete(f"/api/api-keys/{admins_key['id']}", headers=admin.headers)).status_code == 200
        # With a second key, the first can go: rotation.
        spare = await create(client, owner, "/api/api-keys", {"name": "rotated"})
        assert (await client.delete(f"/api/api-keys/{own['id']}", headers=owner.headers)).status_code == 200
        assert_error(await client.get("/api/me", headers=owner.headers), 401, "UNAUTHORIZED")
        assert (await client.get("/api/me", headers={"Authorization": f"Bearer {spare['key']}"})).status_code == 200

    async def test_two_owners_revoking_each_others_last_keys_at_once_leave_one(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        second: Member = await add_member(owner, Role.owner)
        keys = (await client.get("/api/api-keys", headers=owner.headers)).json()["data"]
        first_key = next(key["id"] for key in keys if key["userId"] == owner.user_id)
        second_key = next(key["id"] for key in keys if key["userId"] == second.user_id)
        cache = app.state.principal_cache

        def principal(member: Member, key_id: str) -> Principal:
            return Principal(user_id=member.user_id, team_id=member.team_id, role=member.role, api_key_id=key_id)

        # The first revocation is written but not committed when the second starts: the second must wait for
        # it and then see it, not count the first owner's key as still active.
        async with app.state.sessionmaker() as first:
            await api_key_service.revoke(first, principal(owner, first_key), cache, second_key)

            async def revoke_the_other() -> None:
                async with app.state.sessionmaker() as other, other.begin():
                    await api_key_service.revoke(other, principal(second, second_key), cache, first_key)

            racing = asyncio.create_task(revoke_the_other())
            await asyncio.sleep(0.3)
            await first.commit()
            with pytest.raises(Conflict):
                await racing
        assert (await client.get("/api/me", headers=owner.headers)).status_code == 200
        assert_error(await client.get("/api/me", headers=second.headers), 401, "UNAUTHORIZED")


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
            assert_error(
                await client.get("/api/api-keys", params=params, headers=owner.headers), 422, "VALIDATION_ERROR"
            )
