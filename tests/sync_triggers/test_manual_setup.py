"""Push webhooks the provider would not let us register: the admin lists them, gets the URL and a secret shown
once, adds the webhook at the provider, and its signed deliveries queue imports like a registered one's."""

from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from platform_server.integrations.models import SyncLog
from tests.conftest import Member
from tests.helpers import UNKNOWN_IDS, assert_error
from tests.integrations.helpers import connect
from tests.sync_triggers.helpers import (
    connect_with_push,
    enable,
    github_delivery,
    linear_delivery,
    push_webhooks,
    stored_secret,
)

ISSUE = {"action": "edited", "issue": {"number": 1}, "repository": {"full_name": "acme/product"}}
LINEAR_ISSUE = {"action": "update", "type": "Issue", "data": {"id": "i1", "team": {"key": "ENG"}}}


async def _list(client: httpx.AsyncClient, member: Member, integration_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/integrations/{integration_id}/push-webhooks", headers=member.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["count"] == len(data["pushWebhooks"])
    webhooks: list[dict[str, Any]] = data["pushWebhooks"]
    return webhooks


def _setup_path(integration_id: str, webhook_id: str) -> str:
    return f"/api/integrations/{integration_id}/push-webhooks/{webhook_id}/manual-setup"


async def _runs(app: Any, member: Member) -> int:
    async with app.state.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(SyncLog).where(SyncLog.workspace_id == member.workspace_id)
        )
    return int(count or 0)


async def test_github_without_admin_rights_is_set_up_by_hand_and_its_deliveries_queue_an_import(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    authorization = await connect(client, owner, "github", login="acme-reader")
    await enable(client, owner, authorization.id, "acme/product")
    (listed,) = await _list(client, owner, authorization.id)
    assert listed["status"] == "unavailable"
    assert listed["manualSetup"] is True
    assert listed["url"] == "http://testserver/api/webhooks/github"
    assert "secret" not in listed

    response = await client.post(_setup_path(authorization.id, listed["id"]), headers=owner.headers)
    assert response.status_code == 200, response.text
    setup = response.json()
    assert (setup["status"], setup["url"], setup["contentType"]) == ("manual", listed["url"], "application/json")
    assert setup["events"] == ["issues", "pull_request"]
    secret = setup["secret"]
    assert len(secret) >= 32
    (stored,) = await push_webhooks(app, authorization.id)
    assert secret not in (stored.secret_encrypted or "")
    assert stored_secret(app, stored) == secret
    # Never returned again.
    (again,) = await _list(client, owner, authorization.id)
    assert again["status"] == "manual"
    assert secret not in orjson.dumps(again).decode()

    before = await _runs(app, owner)
    body, headers = github_delivery(secret, "issues", ISSUE)
    delivered = await client.post("/api/webhooks/github", content=body, headers=headers)
    assert delivered.status_code == 200, delivered.text
    assert await _runs(app, owner) == before + 1

    # A second setup replaces the secret: the first one stops verifying.
    replaced = await client.post(_setup_path(authorization.id, listed["id"]), headers=owner.headers)
    assert replaced.status_code == 200
    assert replaced.json()["secret"] != secret
    assert_error(
        await client.post("/api/webhooks/github", content=body, headers=github_delivery(secret, "issues", ISSUE)[1]),
        401,
        "UNAUTHORIZED",
    )

    # A later change reconciles without touching the manual webhook.
    response = await client.patch(
        f"/api/workspaces/{owner.workspace_id}/integrations/{authorization.id}",
        json={"syncIntervalMinutes": 60},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    (kept,) = await push_webhooks(app, authorization.id)
    assert kept.status == "manual"
    assert stored_secret(app, kept) == replaced.json()["secret"]


async def test_linear_without_the_admin_scope_learns_its_webhook_id_from_the_first_delivery(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    authorization = await connect(client, owner, "linear")
    await enable(client, owner, authorization.id, "ENG")
    (listed,) = await _list(client, owner, authorization.id)
    assert (listed["status"], listed["manualSetup"]) == ("unavailable", True)
    assert "admin scope" in listed["statusReason"]
    response = await client.post(_setup_path(authorization.id, listed["id"]), headers=owner.headers)
    assert response.status_code == 200, response.text
    secret = response.json()["secret"]

    forged = linear_delivery("not-the-secret", "lin-hook-1", LINEAR_ISSUE)
    assert_error(await client.post("/api/webhooks/linear", content=forged[0], headers=forged[1]), 401, "UNAUTHORIZED")
    body, headers = linear_delivery(secret, "lin-hook-1", LINEAR_ISSUE)
    delivered = await client.post("/api/webhooks/linear", content=body, headers=headers)
    assert delivered.status_code == 200, delivered.text
    (stored,) = await push_webhooks(app, authorization.id)
    assert (stored.status, stored.external_id) == ("manual", "lin-hook-1")
    body, headers = linear_delivery(secret, "lin-hook-1", LINEAR_ISSUE)
    assert (await client.post("/api/webhooks/linear", content=body, headers=headers)).status_code == 200


async def test_refusals(app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member) -> None:
    registered, _ = await connect_with_push(client, owner, "github")
    (active,) = await _list(client, owner, registered)
    assert active["status"] == "active"
    assert_error(await client.post(_setup_path(registered, active["id"]), headers=owner.headers), 409, "CONFLICT")

    jira = await connect(client, owner, "jira")
    await enable(client, owner, jira.id, "PROJ")
    (jira_hook,) = await _list(client, owner, jira.id)
    assert (jira_hook["status"], jira_hook["manualSetup"]) == ("unavailable", False)
    assert_error(
        await client.post(_setup_path(jira.id, jira_hook["id"]), headers=owner.headers), 422, "VALIDATION_ERROR"
    )

    # Another team's integration, unknown or malformed ids, and a webhook named through another integration of the
    # team are not found; nothing changed.
    for caller, integration_id, webhook_id in (
        (other_team, registered, active["id"]),
        *((owner, registered, unknown) for unknown in UNKNOWN_IDS),
        *((owner, unknown, active["id"]) for unknown in UNKNOWN_IDS),
        (owner, jira.id, active["id"]),
    ):
        assert_error(
            await client.post(_setup_path(integration_id, webhook_id), headers=caller.headers), 404, "NOT_FOUND"
        )
    assert_error(
        await client.get(f"/api/integrations/{registered}/push-webhooks", headers=other_team.headers), 404, "NOT_FOUND"
    )
    (unchanged,) = await push_webhooks(app, registered)
    assert unchanged.status == "active"


async def test_members_may_list_but_not_set_up(
    app: Any, client: httpx.AsyncClient, owner: Member, add_member: Any
) -> None:
    member = await add_member(owner)
    reader = await connect(client, owner, "github", login="acme-reader")
    await enable(client, owner, reader.id, "acme/product")
    (unavailable,) = await _list(client, member, reader.id)
    refused = await client.post(_setup_path(reader.id, unavailable["id"]), headers=member.headers)
    assert assert_error(refused, 403, "FORBIDDEN")["details"]["role"] == "member"
    (still,) = await push_webhooks(app, reader.id)
    assert (still.status, still.secret_encrypted) == ("unavailable", None)
