import hashlib
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_server.auth.models import ApiKey
from platform_server.teams.models import Role
from tests.conftest import Member, row_count
from tests.helpers import assert_error


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Hundreds of requests from one key in a few seconds; the per-minute limit is tested in tests/limits.
    return {"RATE_LIMIT_ENABLED": False}


# Every authenticated foundation endpoint, with a body that would be valid for a caller with a key.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/me", None),
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"email": "new@example.com", "name": "New"}),
    ("GET", "/api/api-keys", None),
    ("POST", "/api/api-keys", {"name": "ci"}),
    ("DELETE", "/api/api-keys/{key_id}", None),
    ("GET", "/api/workspaces", None),
    ("POST", "/api/workspaces", {"name": "New"}),
    ("GET", "/api/workspaces/{workspace_id}", None),
    ("PATCH", "/api/workspaces/{workspace_id}", {"name": "Renamed"}),
    ("DELETE", "/api/workspaces/{workspace_id}", None),
    ("GET", "/api/features", None),
    ("POST", "/api/features", {"workspaceId": "{workspace_id}", "title": "x"}),
    ("GET", "/api/features/1234567890123456789", None),
    ("PATCH", "/api/features/1234567890123456789", {"title": "x"}),
    ("DELETE", "/api/features/1234567890123456789", None),
    ("GET", "/api/work-items", None),
    ("POST", "/api/work-items", {"workspaceId": "{workspace_id}", "title": "x"}),
    ("GET", "/api/work-items/1234567890123456789", None),
    ("PATCH", "/api/work-items/1234567890123456789", {"title": "x"}),
    ("DELETE", "/api/work-items/1234567890123456789", None),
]

BAD_HEADERS = {
    "missing": {},
    "empty": {"Authorization": ""},
    "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
    "token scheme": {"Authorization": "Token plat_abc"},
    "bearer without key": {"Authorization": "Bearer"},
    "bearer blank key": {"Authorization": "Bearer   "},
    "unknown key": {"Authorization": "Bearer plat_thisKeyWasNeverIssuedToAnyoneAtAll000000000"},
    "key without scheme": {"Authorization": "plat_thisKeyWasNeverIssuedToAnyoneAtAll000000000"},
}


async def _key_id(app: Any, member: Member) -> str:
    async with app.state.sessionmaker() as session:
        key_id: str = await session.scalar(select(ApiKey.id).where(ApiKey.user_id == member.user_id))
    return key_id


def _request(method: str, path: str, body: dict[str, Any] | None, member: Member, key_id: str) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        return value.format(workspace_id=member.workspace_id, key_id=key_id) if isinstance(value, str) else value

    request: dict[str, Any] = {"method": method, "url": fill(path)}
    if body is not None:
        request["json"] = {key: fill(value) for key, value in body.items()}
    return request


@pytest.mark.parametrize("case", list(BAD_HEADERS))
async def test_every_endpoint_refuses_bad_credentials(
    app: Any, client: httpx.AsyncClient, owner: Member, case: str
) -> None:
    key_id = await _key_id(app, owner)
    for method, path, body in ENDPOINTS:
        response = await client.request(**_request(method, path, body, owner, key_id), headers=BAD_HEADERS[case])
        error = assert_error(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"] == "Bearer", (method, path)
        assert "plat_" not in error["message"]
    # Nothing was created, renamed or revoked.
    listing = (await client.get("/api/workspaces", headers=owner.headers)).json()
    assert [(w["id"], w["name"]) for w in listing["data"]] == [(owner.workspace_id, "Main")]
    assert (await client.get("/api/me", headers=owner.headers)).status_code == 200


async def test_scheme_is_case_insensitive(client: httpx.AsyncClient, owner: Member) -> None:
    response = await client.get("/api/me", headers={"Authorization": f"bEaReR {owner.api_key}"})
    assert response.status_code == 200


async def test_every_endpoint_accepts_a_valid_key(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    extra = await client.post("/api/api-keys", json={"name": "spare"}, headers=owner.headers)
    key_id = extra.json()["apiKey"]["id"]
    # Deleting the workspace last, so the creates that need it still find it.
    ordered = sorted(ENDPOINTS, key=lambda endpoint: endpoint[:2] == ("DELETE", "/api/workspaces/{workspace_id}"))
    for method, path, body in ordered:
        response = await client.request(**_request(method, path, body, owner, key_id), headers=owner.headers)
        assert response.status_code in (200, 201, 404), (method, path, response.text)
        assert response.status_code != 404 or "1234567890123456789" in path


async def test_revocation_takes_effect_immediately(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    created = (await client.post("/api/api-keys", json={"name": "temp"}, headers=owner.headers)).json()
    temp = {"Authorization": f"Bearer {created['key']}"}
    # Used twice so the principal is certainly in the process cache before the revoke.
    assert (await client.get("/api/me", headers=temp)).status_code == 200
    assert (await client.get("/api/workspaces", headers=temp)).status_code == 200
    revoked = await client.delete(f"/api/api-keys/{created['apiKey']['id']}", headers=owner.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revokedAt"] is not None
    for method, path, body in ENDPOINTS:
        response = await client.request(**_request(method, path, body, owner, created["apiKey"]["id"]), headers=temp)
        assert_error(response, 401, "UNAUTHORIZED")
    assert (await client.get("/api/me", headers=owner.headers)).status_code == 200


async def test_a_key_revoking_itself_stops_working(client: httpx.AsyncClient, owner: Member) -> None:
    key_id = (await client.get("/api/api-keys", headers=owner.headers)).json()["data"][0]["id"]
    # Another owner key first: the team's last one cannot be revoked.
    assert (await client.post("/api/api-keys", json={"name": "spare"}, headers=owner.headers)).status_code == 201
    assert (await client.delete(f"/api/api-keys/{key_id}", headers=owner.headers)).status_code == 200
    assert_error(await client.get("/api/me", headers=owner.headers), 401, "UNAUTHORIZED")


async def test_keys_are_hashed_at_rest(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    created = (await client.post("/api/api-keys", json={"name": "ci"}, headers=owner.headers)).json()
    secret = created["key"]
    assert secret.startswith("plat_")
    assert len(secret) >= 40
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(select(ApiKey))).scalars().all()
    assert len(rows) == 2
    for row in rows:
        stored = " ".join(str(getattr(row, column.key)) for column in ApiKey.__table__.columns)
        assert owner.api_key not in stored
        assert secret not in stored
    row = next(r for r in rows if r.id == created["apiKey"]["id"])
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.prefix == secret[: len(row.prefix)]
    assert len(row.prefix) < 16


async def test_last_used_is_written_at_most_once_a_minute(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    async def last_used() -> Any:
        async with app.state.sessionmaker() as session:
            return await session.scalar(select(ApiKey.last_used_at).where(ApiKey.user_id == owner.user_id))

    assert await last_used() is None
    assert (await client.get("/api/me", headers=owner.headers)).status_code == 200
    first = await last_used()
    assert first is not None
    assert first.tzinfo is not None
    assert (await client.get("/api/workspaces", headers=owner.headers)).status_code == 200
    assert await last_used() == first
    listed = (await client.get("/api/api-keys", headers=owner.headers)).json()["data"][0]
    assert listed["lastUsedAt"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await row_count(app, ApiKey) == 1


async def test_revocation_wins_over_a_lookup_racing_its_commit(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    from platform_server.auth.principal import Principal
    from platform_server.auth.service import api_key_service

    created = (await client.post("/api/api-keys", json={"name": "racy"}, headers=owner.headers)).json()
    racy = {"Authorization": f"Bearer {created['key']}"}
    # Used once first, so the racing request below only reads (its last_used_at write is not due yet).
    assert (await client.get("/api/me", headers=racy)).status_code == 200
    app.state.principal_cache.evict(api_key_id=created["apiKey"]["id"])
    caller = Principal(user_id=owner.user_id, team_id=owner.team_id, role=Role.owner, api_key_id="0")
    async with app.state.sessionmaker() as session:
        await api_key_service.revoke(session, caller, app.state.principal_cache, created["apiKey"]["id"])
        # Before the revoke commits, a request still finds the key valid and caches it.
        assert (await client.get("/api/me", headers=racy)).status_code == 200
        await session.commit()
    assert_error(await client.get("/api/me", headers=racy), 401, "UNAUTHORIZED")
