"""Bad sync requests: clear errors, and nothing changes."""

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from platform_server.integrations.models import SyncLog, WorkspaceIntegration
from platform_server.models import WorkItem
from tests.conftest import Member, row_count
from tests.integrations.helpers import connect
from tests.sync.helpers import connect_and_enable, sync

GOOD = {"syncType": "import", "sourceEntity": "issues", "targetEntity": "work_items"}


async def post(client: httpx.AsyncClient, member: Member, integration_id: str, body: Any) -> httpx.Response:
    return await client.post(f"/api/integrations/{integration_id}/sync", json=body, headers=member.headers)


async def assert_nothing_changed(app: Any) -> None:
    assert await row_count(app, SyncLog) == 0
    assert await row_count(app, WorkItem) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"syncType": "mirror"}, "syncType"),
        ({"syncType": 1}, "syncType"),
        ({"workspaceId": "abc"}, "workspaceId"),
        ({"workspaceId": 12}, "workspaceId"),
        ({"sourceEntity": ""}, "sourceEntity"),
        ({"targetEntity": None}, "targetEntity"),
        ({"async": "soon"}, "async"),
        ({"unexpected": True}, "unexpected"),
    ],
)
async def test_invalid_bodies_are_422(
    app: Any, client: httpx.AsyncClient, owner: Member, change: dict[str, Any], field: str
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    response = await post(client, owner, integration_id, {**GOOD, "workspaceId": owner.workspace_id, **change})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in response.text
    await assert_nothing_changed(app)


@pytest.mark.parametrize("missing", ["syncType", "workspaceId", "sourceEntity", "targetEntity"])
async def test_missing_fields_are_422(app: Any, client: httpx.AsyncClient, owner: Member, missing: str) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    body = {**GOOD, "workspaceId": owner.workspace_id}
    del body[missing]
    response = await post(client, owner, integration_id, body)
    assert response.status_code == 422
    assert missing in response.text
    await assert_nothing_changed(app)


async def test_malformed_json_is_400(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    response = await client.post(
        f"/api/integrations/{integration_id}/sync",
        content=b'{"syncType": "import",',
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    await assert_nothing_changed(app)


async def test_unsupported_pairs_name_the_supported_ones(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    for body in (
        {**GOOD, "sourceEntity": "pages"},
        {**GOOD, "targetEntity": "features"},
        {"syncType": "export", "sourceEntity": "features", "targetEntity": "issues"},
    ):
        response = await post(client, owner, integration_id, {**body, "workspaceId": owner.workspace_id})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert "issues → work_items" in error["message"]
        assert "pull_requests → work_items" in error["message"]
        assert {"syncType": "export", "sourceEntity": "work_items", "targetEntity": "issues"} in error["details"][
            "supported"
        ]
    slack = await connect(client, owner, "slack")
    response = await post(client, owner, slack.id, {**GOOD, "workspaceId": owner.workspace_id})
    assert response.status_code == 422
    assert "supports no sync" in response.json()["error"]["message"]
    await assert_nothing_changed(app)


async def test_unknown_and_foreign_ids_are_404(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    body = {**GOOD, "workspaceId": owner.workspace_id}
    assert (await post(client, owner, "999", body)).status_code == 404
    assert (await post(client, owner, "not-an-id", body)).status_code == 404
    foreign = await post(client, other_team, integration_id, {**GOOD, "workspaceId": other_team.workspace_id})
    assert foreign.status_code == 404
    foreign_workspace = await post(client, owner, integration_id, {**GOOD, "workspaceId": other_team.workspace_id})
    assert foreign_workspace.status_code == 404
    assert foreign_workspace.json()["error"]["code"] == "NOT_FOUND"
    assert (await client.post(f"/api/integrations/{integration_id}/sync", json=body)).status_code == 401
    await assert_nothing_changed(app)


async def test_not_enabled_for_the_workspace_is_409(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    authorization = await connect(client, owner, "github")
    response = await post(client, owner, authorization.id, {**GOOD, "workspaceId": owner.workspace_id})
    assert response.status_code == 409
    assert "not enabled" in response.json()["error"]["message"]
    await assert_nothing_changed(app)


async def test_missing_default_project_is_422(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github", project="")
    response = await post(client, owner, integration_id, {**GOOD, "workspaceId": owner.workspace_id})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "defaultProject" in error["message"]
    assert "owner/repo" in error["message"]
    await assert_nothing_changed(app)


async def test_unusable_default_project_is_422(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    # The API refuses such a value when it is set; one stored before that check still cannot steer a sync.
    integration_id = await connect_and_enable(app, client, owner, "jira")
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(update(WorkspaceIntegration).values(default_project="not a key"))
    response = await post(client, owner, integration_id, {**GOOD, "workspaceId": owner.workspace_id})
    assert response.status_code == 422
    assert "Jira project key" in response.json()["error"]["message"]
    await assert_nothing_changed(app)


async def test_missing_repository_fails_the_run_with_a_clear_error(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github", project="acme/missing")
    response = await post(client, owner, integration_id, {**GOOD, "workspaceId": owner.workspace_id})
    assert response.status_code == 422
    error = response.json()["error"]
    log_id = error["details"]["syncLogId"]
    detail = (await client.get(f"/api/integrations/{integration_id}", headers=owner.headers)).json()
    assert detail["syncLogs"][0]["id"] == log_id
    assert detail["syncLogs"][0]["status"] == "failed"
    assert detail["lastSyncAt"] is None
    assert await row_count(app, WorkItem) == 0


async def test_provider_outage_fails_the_run_with_503(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    app.state.sandbox.faults.error_rate = 1.0
    response = await post(client, owner, integration_id, {**GOOD, "workspaceId": owner.workspace_id})
    assert response.status_code == 503
    assert response.json()["error"]["details"]["syncLogId"]
    app.state.sandbox.faults.error_rate = 0.0
    assert (await sync(client, owner, integration_id))["status"] == "completed"


async def test_revoked_grant_expires_the_integration_and_answers_409(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    store = app.state.sandbox
    integration_id = await connect_and_enable(app, client, owner, "github")
    for record in list(store.access_tokens.values()):
        if record.grant.provider == "github":
            store.revoke_grant(record.grant)
    response = await post(client, owner, integration_id, {**GOOD, "workspaceId": owner.workspace_id})
    assert response.status_code == 409, response.text
    assert "reconnect" in response.json()["error"]["message"].lower()
    detail = (await client.get(f"/api/integrations/{integration_id}", headers=owner.headers)).json()
    assert detail["status"] == "expired"
    assert detail["syncLogs"][0]["status"] == "failed"
    # An expired integration is refused before anything is fetched.
    again = await post(client, owner, integration_id, {**GOOD, "workspaceId": owner.workspace_id})
    assert again.status_code == 409
    assert "expired" in again.json()["error"]["message"]
    assert await row_count(app, WorkItem) == 0


async def test_a_completed_sync_clears_a_passing_error_status(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    from sqlalchemy import update

    from platform_server.integrations.models import Integration

    integration_id = await connect_and_enable(app, client, owner, "github")
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Integration)
            .where(Integration.id == integration_id)
            .values(status="error", status_reason="Token refresh failed (server_error); will retry")
        )
    assert (await sync(client, owner, integration_id))["status"] == "completed"
    detail = (await client.get(f"/api/integrations/{integration_id}", headers=owner.headers)).json()
    assert detail["status"] == "connected"
