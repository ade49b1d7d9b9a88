"""A verified event → the workspace integrations it affects: those of the registration that signed it, in its
team, whose defaultProject is the event's project (or unset). Other teams' integrations are never affected."""

from typing import Any

import httpx

from platform_server.integrations.push.router import ENDPOINTS
from platform_server.integrations.push.service import push_service
from tests.conftest import Member
from tests.sync_triggers.helpers import (
    connect_with_push,
    github_delivery,
    jira_delivery,
    linear_delivery,
    push_webhooks,
    stored_secret,
)

ISSUE = {"action": "edited", "issue": {"number": 3}, "repository": {"full_name": "Acme/Product"}}


async def _affected(app: Any, provider: str, body: bytes, headers: dict[str, str]) -> set[str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    async with app.state.sessionmaker() as session:
        (verify,) = [endpoint.verify for endpoint in ENDPOINTS if endpoint.provider == provider]
        event = await verify(session, app.state, body, lowered)
        assert event.starts_sync
        return {access.id for access in await push_service.affected_accesses(session, event)}


async def _second_workspace(client: httpx.AsyncClient, member: Member) -> str:
    response = await client.post("/api/workspaces", json={"name": "Second"}, headers=member.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_github_event_reaches_only_its_teams_workspaces_of_that_repository(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    integration_id, access_id = await connect_with_push(client, owner, "github")
    _, foreign_access = await connect_with_push(client, other_team, "github")
    # A second workspace of the same team on another repository, and a third with no project at all.
    website = await _second_workspace(client, owner)
    enabled = await client.post(
        f"/api/workspaces/{website}/integrations",
        json={"integrationId": integration_id, "defaultProject": "acme/website"},
        headers=owner.headers,
    )
    everything = await _second_workspace(client, owner)
    unscoped = await client.post(
        f"/api/workspaces/{everything}/integrations", json={"integrationId": integration_id}, headers=owner.headers
    )
    assert {enabled.status_code, unscoped.status_code} == {201}

    webhooks = {webhook.target: webhook for webhook in await push_webhooks(app, integration_id)}
    assert set(webhooks) == {"acme/product", "acme/website"}
    secret = stored_secret(app, webhooks["acme/product"])
    affected = await _affected(app, "github", *github_delivery(secret, "issues", ISSUE))
    assert affected == {access_id, unscoped.json()["accessId"]}
    assert foreign_access not in affected


async def test_disabled_workspace_integrations_are_not_affected(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id, _ = await connect_with_push(client, owner, "github")
    (webhook,) = await push_webhooks(app, integration_id)
    secret = stored_secret(app, webhook)
    response = await client.patch(
        f"/api/workspaces/{owner.workspace_id}/integrations/{integration_id}",
        json={"enabled": False},
        headers=owner.headers,
    )
    assert response.status_code == 200
    assert await _affected(app, "github", *github_delivery(secret, "issues", ISSUE)) == set()


async def test_linear_event_reaches_the_workspaces_of_its_team(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    other_team: Member,
) -> None:
    integration_id, access_id = await connect_with_push(client, owner, "linear", project="ENG")
    await connect_with_push(client, other_team, "linear", project="ENG")
    design = await _second_workspace(client, owner)
    other = await client.post(
        f"/api/workspaces/{design}/integrations",
        json={"integrationId": integration_id, "defaultProject": "DES"},
        headers=owner.headers,
    )
    assert other.status_code == 201
    (webhook,) = await push_webhooks(app, integration_id)
    payload = {"action": "update", "type": "Issue", "data": {"id": "i1", "team": {"key": "ENG"}}}
    body, headers = linear_delivery(stored_secret(app, webhook), str(webhook.external_id), payload)
    assert await _affected(app, "linear", body, headers) == {access_id}


async def test_jira_event_reaches_the_registrations_it_names(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    integration_id, access_id = await connect_with_push(client, owner, "jira")
    foreign_id, _ = await connect_with_push(client, other_team, "jira")
    (webhook,) = await push_webhooks(app, integration_id)
    (foreign,) = await push_webhooks(app, foreign_id)
    assert webhook.external_id != foreign.external_id
    payload = {
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1,
        "issue": {"key": "PROJ-1", "fields": {"project": {"key": "PROJ"}}},
        "matchedWebhookIds": [int(str(webhook.external_id))],
    }
    assert await _affected(app, "jira", *jira_delivery("sandbox-secret-jira", payload)) == {access_id}
