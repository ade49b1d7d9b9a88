from typing import Any

import httpx
import pytest

from platform_server.auth.models import ApiKey
from platform_server.models import User
from platform_server.teams.models import Role
from tests.conftest import Member, row_count
from tests.helpers import assert_error, create, failing_fields


class TestMe:
    async def test_user_team_and_plan(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get("/api/me", headers=owner.headers)
        assert response.status_code == 200
        me = response.json()
        assert set(me) == {"user", "team", "plan"}
        assert me["user"]["id"] == owner.user_id
        assert me["user"]["role"] == "owner"
        assert me["user"]["email"].endswith("@example.com")
        assert me["team"] == {"id": owner.team_id, "name": "Acme", "plan": "free", "createdAt": me["team"]["createdAt"]}
        assert me["plan"] == {
            "name": "free",
            "requestsPerMinute": 100,
            "aiMessagesPerMonth": 50,
            "aiMessagesScope": "team",
        }

    async def test_pro_plan(self, client: httpx.AsyncClient, make_team: Any) -> None:
        pro: Member = await make_team("Initech", plan="pro")
        plan = (await client.get("/api/me", headers=pro.headers)).json()["plan"]
        assert plan == {"name": "pro", "requestsPerMinute": 500, "aiMessagesPerMonth": 1000, "aiMessagesScope": "user"}

    async def test_member_sees_own_role(self, client: httpx.AsyncClient, owner: Member, add_member: Any) -> None:
        member: Member = await add_member(owner, Role.member)
        me = (await client.get("/api/me", headers=member.headers)).json()
        assert (me["user"]["id"], me["user"]["role"], me["team"]["id"]) == (member.user_id, "member", owner.team_id)


class TestUsers:
    async def test_list_members(
        self, client: httpx.AsyncClient, owner: Member, other_team: Member, add_member: Any
    ) -> None:
        member: Member = await add_member(owner, Role.member)
        for caller in (owner, member):
            listing = (await client.get("/api/users", headers=caller.headers)).json()
            assert [user["id"] for user in listing["data"]] == [owner.user_id, member.user_id]
            assert listing["pagination"]["total"] == 2
        past = (await client.get("/api/users", params={"page": 2, "limit": 2}, headers=owner.headers)).json()
        assert past == {"data": [], "pagination": {"page": 2, "limit": 2, "total": 2, "total_pages": 1}}
        assert_error(
            await client.get("/api/users", params={"limit": 101}, headers=owner.headers), 422, "VALIDATION_ERROR"
        )

    @pytest.mark.parametrize("role", [Role.owner, Role.admin])
    async def test_managers_add_members_with_a_first_key(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any, role: Role
    ) -> None:
        caller = owner if role is Role.owner else await add_member(owner, Role.admin)
        body = {"email": " Grace@Example.COM ", "name": "Grace", "role": "admin"}
        created = await create(client, caller, "/api/users", body)
        assert set(created) == {"user", "apiKey", "key"}
        assert created["user"]["email"] == "grace@example.com"
        assert created["user"]["role"] == "admin"
        assert created["apiKey"]["userId"] == created["user"]["id"]
        headers = {"Authorization": f"Bearer {created['key']}"}
        me = (await client.get("/api/me", headers=headers)).json()
        assert (me["user"]["id"], me["team"]["id"]) == (created["user"]["id"], owner.team_id)
        assert created["key"] not in (await client.get("/api/api-keys", headers=owner.headers)).text

    async def test_default_role_is_member(self, client: httpx.AsyncClient, owner: Member) -> None:
        created = await create(client, owner, "/api/users", {"email": "m@example.com", "name": "M"})
        assert created["user"]["role"] == "member"

    async def test_only_an_owner_grants_owner(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        admin: Member = await add_member(owner, Role.admin)
        body = {"email": "boss@example.com", "name": "Boss", "role": "owner"}
        assert_error(await client.post("/api/users", json=body, headers=admin.headers), 403, "FORBIDDEN")
        assert await row_count(app, User) == 2
        assert (await create(client, owner, "/api/users", body))["user"]["role"] == "owner"

    async def test_members_cannot_add_users(
        self, app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
    ) -> None:
        member: Member = await add_member(owner, Role.member)
        body = {"email": "x@example.com", "name": "X"}
        assert_error(await client.post("/api/users", json=body, headers=member.headers), 403, "FORBIDDEN")
        assert await row_count(app, User) == 2

    async def test_duplicate_email_conflicts(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        await create(client, owner, "/api/users", {"email": "dup@example.com", "name": "A"})
        response = await client.post(
            "/api/users", json={"email": "DUP@example.com", "name": "B"}, headers=owner.headers
        )
        assert_error(response, 409, "CONFLICT")
        assert await row_count(app, User) == 3
        assert await row_count(app, ApiKey) == 3
        # The same address may belong to a user of another team.
        await create(client, other_team, "/api/users", {"email": "dup@example.com", "name": "C"})

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "X"}, "body.email"),
            ({"email": "x@example.com"}, "body.name"),
            ({"email": "not-an-email", "name": "X"}, "body.email"),
            ({"email": "a b@example.com", "name": "X"}, "body.email"),
            ({"email": "@example.com", "name": "X"}, "body.email"),
            ({"email": 5, "name": "X"}, "body.email"),
            ({"email": "x@example.com", "name": ""}, "body.name"),
            ({"email": "x@example.com", "name": "n" * 201}, "body.name"),
            ({"email": "x@example.com", "name": "X", "role": "superuser"}, "body.role"),
            ({"email": "x@example.com", "name": "X", "role": None}, "body.role"),
            ({"email": "x@example.com", "name": "X", "teamId": "1"}, "body.teamId"),
        ],
    )
    async def test_invalid_body_changes_nothing(
        self, app: Any, client: httpx.AsyncClient, owner: Member, body: dict[str, Any], field: str
    ) -> None:
        assert field in failing_fields(await client.post("/api/users", json=body, headers=owner.headers))
        assert await row_count(app, User) == 1
        assert await row_count(app, ApiKey) == 1
