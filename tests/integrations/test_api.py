from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import httpx
import pytest

from platform_server.db import utcnow
from platform_server.integrations.models import Integration, SyncLog, WorkspaceIntegration
from platform_server.integrations.tokens import open_token
from platform_server.teams.models import Role
from platform_server.work_items.models import WorkItem
from tests.conftest import Member, row_count
from tests.integrations.helpers import PROVIDERS, connect, start

LIST_ITEM_KEYS = {"id", "provider", "name", "status", "providerAccountName", "scopes", "lastSyncAt", "createdAt"}


class TestCreate:
    async def test_created_shape(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.post(
            "/api/integrations",
            json={"provider": "github", "name": "GitHub Integration", "scopes": ["repo", "read:user"]},
            headers=owner.headers,
        )
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"integration", "oauthUrl"}
        assert set(body["integration"]) == {"id", "provider", "name", "status", "scopes", "createdAt"}
        assert body["integration"]["status"] == "pending"
        assert body["integration"]["scopes"] == ["repo", "read:user"]
        assert body["integration"]["createdAt"].endswith("Z")
        assert body["oauthUrl"].startswith("http://testserver/sandbox/github/login/oauth/authorize?")

    async def test_scopes_default_to_the_providers(self, client: httpx.AsyncClient, owner: Member) -> None:
        authorization = await start(client, owner, "figma")
        assert authorization.integration["scopes"] == [
            "current_user:read",
            "file_content:read",
            "file_metadata:read",
        ]
        assert authorization.integration["name"] == "Figma"

    async def test_unknown_provider_lists_supported(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.post("/api/integrations", json={"provider": "gitlab"}, headers=owner.headers)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        [field] = error["details"]["fields"]
        assert field["field"] == "body.provider"
        for provider in PROVIDERS:
            assert provider in field["message"]
        assert await row_count(app, Integration) == 0

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": "x"},
            {"provider": 7},
            {"provider": "github", "scopes": "repo"},
            {"provider": "github", "scopes": ["repo", 3]},
            {"provider": "github", "scopes": ["two words"]},
            {"provider": "github", "name": ""},
            {"provider": "github", "name": "x" * 201},
            {"provider": "github", "unknown": True},
            [],
        ],
    )
    async def test_invalid_bodies(self, app: Any, client: httpx.AsyncClient, owner: Member, body: Any) -> None:
        response = await client.post("/api/integrations", json=body, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert await row_count(app, Integration) == 0

    async def test_malformed_json(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.post(
            "/api/integrations",
            content=b'{"provider": ',
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BAD_REQUEST"
        assert await row_count(app, Integration) == 0

    async def test_duplicate_name_conflicts(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        await start(client, owner, "github", name="Tools")
        response = await client.post(
            "/api/integrations", json={"provider": "jira", "name": "Tools"}, headers=owner.headers
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "CONFLICT"
        assert await row_count(app, Integration) == 1

    async def test_same_name_in_another_team_is_fine(
        self, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        await start(client, owner, "github", name="Tools")
        await start(client, other_team, "github", name="Tools")

    async def test_members_cannot_create(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        add_member: Callable[..., Coroutine[Any, Any, Member]],
    ) -> None:
        member = await add_member(owner, Role.member)
        response = await client.post("/api/integrations", json={"provider": "github"}, headers=member.headers)
        assert response.status_code == 403
        assert await row_count(app, Integration) == 0
        admin = await add_member(owner, Role.admin)
        await start(client, admin, "github")

    async def test_requires_authentication(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/integrations", json={"provider": "github"})
        assert response.status_code == 401


class TestList:
    async def test_filters_and_shape(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        connected = await connect(client, owner, "github")
        await start(client, owner, "jira")
        body = (await client.get("/api/integrations", headers=owner.headers)).json()
        assert set(body) == {"integrations", "count", "pagination"}
        assert body["count"] == 2
        assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "total_pages": 1}
        for item in body["integrations"]:
            assert set(item) == LIST_ITEM_KEYS
        only = (await client.get("/api/integrations?status=connected", headers=owner.headers)).json()
        assert [i["id"] for i in only["integrations"]] == [connected.id]
        assert only["count"] == 1
        jira = (await client.get("/api/integrations?provider=jira", headers=owner.headers)).json()
        assert [i["provider"] for i in jira["integrations"]] == ["jira"]
        page = (await client.get("/api/integrations?limit=1&page=2", headers=owner.headers)).json()
        assert page["count"] == 2
        assert len(page["integrations"]) == 1

    @pytest.mark.parametrize("query", ["status=broken", "provider=gitlab", "limit=0", "limit=101", "page=0"])
    async def test_bad_filters(self, client: httpx.AsyncClient, owner: Member, query: str) -> None:
        response = await client.get(f"/api/integrations?{query}", headers=owner.headers)
        assert response.status_code == 422

    async def test_only_own_team(self, client: httpx.AsyncClient, owner: Member, other_team: Member) -> None:
        await start(client, other_team, "github")
        body = (await client.get("/api/integrations", headers=owner.headers)).json()
        assert body["integrations"] == []
        assert body["count"] == 0

    async def test_members_may_read(
        self, client: httpx.AsyncClient, owner: Member, add_member: Callable[..., Coroutine[Any, Any, Member]]
    ) -> None:
        authorization = await start(client, owner, "github")
        member = await add_member(owner, Role.member)
        assert (await client.get("/api/integrations", headers=member.headers)).json()["count"] == 1
        response = await client.get(f"/api/integrations/{authorization.id}", headers=member.headers)
        assert response.status_code == 200


class TestDetail:
    async def test_shape_with_sync_logs_newest_first(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        authorization = await connect(client, owner, "github")
        now = utcnow()
        async with app.state.sessionmaker() as session, session.begin():
            for minutes, items in ((10, 5), (1, 15)):
                session.add(
                    SyncLog(
                        team_id=owner.team_id,
                        integration_id=authorization.id,
                        workspace_id=owner.workspace_id,
                        sync_type="import",
                        source_entity="issues",
                        target_entity="work_items",
                        status="completed",
                        items_synced=items,
                        duration_ms=1234,
                        started_at=now - timedelta(minutes=minutes),
                        finished_at=now,
                    )
                )
        body = (await client.get(f"/api/integrations/{authorization.id}", headers=owner.headers)).json()
        assert set(body) == {"id", "provider", "name", "status", "scopes", "lastSyncAt", "syncLogs"}
        assert body["status"] == "connected"
        assert [log["items_synced"] for log in body["syncLogs"]] == [15, 5]
        for log in body["syncLogs"]:
            assert set(log) == {"id", "sync_type", "status", "items_synced", "duration_ms"}

    @pytest.mark.parametrize("integration_id", ["123", "abc", "9" * 30])
    async def test_unknown_ids(self, client: httpx.AsyncClient, owner: Member, integration_id: str) -> None:
        response = await client.get(f"/api/integrations/{integration_id}", headers=owner.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"

    async def test_other_teams_integration_is_not_found(
        self, app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
    ) -> None:
        theirs = await connect(client, other_team, "github")
        assert (await client.get(f"/api/integrations/{theirs.id}", headers=owner.headers)).status_code == 404
        response = await client.delete(f"/api/integrations/{theirs.id}", headers=owner.headers)
        assert response.status_code == 404
        assert await row_count(app, Integration) == 1


class TestDelete:
    async def test_revokes_removes_enablements_keeps_work_items(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        authorization = await connect(client, owner, "github")
        enabled = await client.post(
            f"/api/workspaces/{owner.workspace_id}/integrations",
            json={"integrationId": authorization.id},
            headers=owner.headers,
        )
        assert enabled.status_code == 201
        async with app.state.sessionmaker() as session, session.begin():
            session.add(
                WorkItem(
                    team_id=owner.team_id,
                    workspace_id=owner.workspace_id,
                    title="Imported",
                    integration_id=authorization.id,
                    source_provider="github",
                    source_entity="issues",
                    external_id="1",
                )
            )
        async with app.state.sessionmaker() as session:
            row = await session.get(Integration, authorization.id)
            assert row is not None
            token = open_token(app.state.encryptor, row, "access_token")
        store = app.state.sandbox
        assert store.authenticate("github", token) == (store.access_tokens[token], None)
        response = await client.delete(f"/api/integrations/{authorization.id}", headers=owner.headers)
        assert response.status_code == 200
        assert response.json() == {"message": "Integration deleted"}
        # The grant was revoked at GitHub: the token no longer works there.
        assert store.authenticate("github", token) == (None, "revoked")
        assert await row_count(app, Integration) == 0
        assert await row_count(app, WorkspaceIntegration) == 0
        assert await row_count(app, WorkItem) == 1
        assert (await client.get(f"/api/integrations/{authorization.id}", headers=owner.headers)).status_code == 404

    async def test_pending_integration_deletes_without_revocation(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        authorization = await start(client, owner, "slack")
        response = await client.delete(f"/api/integrations/{authorization.id}", headers=owner.headers)
        assert response.status_code == 200
        assert await row_count(app, Integration) == 0

    async def test_members_cannot_delete(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        add_member: Callable[..., Coroutine[Any, Any, Member]],
    ) -> None:
        authorization = await start(client, owner, "github")
        member = await add_member(owner, Role.member)
        response = await client.delete(f"/api/integrations/{authorization.id}", headers=member.headers)
        assert response.status_code == 403
        assert await row_count(app, Integration) == 1


class TestCatalog:
    async def test_lists_every_provider(self, client: httpx.AsyncClient, owner: Member) -> None:
        body = (await client.get("/api/integrations/providers", headers=owner.headers)).json()
        assert body["count"] == 6
        by_name = {entry["provider"]: entry for entry in body["providers"]}
        assert list(by_name) == list(PROVIDERS)
        assert by_name["github"]["category"] == "Development"
        assert by_name["jira"]["category"] == "Project Management"
        assert by_name["notion"]["category"] == "Documentation"
        assert by_name["slack"]["category"] == "Communication"
        assert by_name["figma"]["category"] == "Design"
        assert all(entry["configured"] for entry in body["providers"])
        assert by_name["github"]["defaultScopes"] == ["repo", "read:user"]
        counts = {name: len(entry["tools"]) for name, entry in by_name.items()}
        assert counts == {"github": 4, "jira": 4, "linear": 4, "notion": 4, "slack": 3, "figma": 3}
        [list_repos] = [tool for tool in by_name["github"]["tools"] if tool["name"] == "github_list_repos"]
        assert list_repos["description"]
        assert list_repos["inputSchema"]["type"] == "object"

    async def test_requires_authentication(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/integrations/providers")).status_code == 401
