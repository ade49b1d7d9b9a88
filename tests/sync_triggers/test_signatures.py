"""Each provider's webhook authentication with real HMACs and JWTs: valid, wrong secret, tampered body, missing
headers, replayed delivery, stale timestamp. Refused deliveries answer 401 and store nothing."""

from typing import Any

import httpx
import orjson
from sqlalchemy import select

from platform_server.webhook_events.models import WebhookEvent
from tests.conftest import Member
from tests.helpers import assert_error
from tests.sync_triggers.helpers import (
    connect_with_push,
    github_delivery,
    jira_delivery,
    linear_delivery,
    push_webhooks,
    stored_secret,
)

PING = {"zen": "Keep it logically awesome.", "hook_id": 1, "repository": {"full_name": "acme/product"}}
LINEAR_COMMENT = {"action": "create", "type": "Comment", "data": {"id": "c1", "body": "Looks good"}}
JIRA_COMMENT = {"webhookEvent": "comment_created", "timestamp": 1, "comment": {"id": "10000"}}


async def _events(app: Any, source: str) -> list[WebhookEvent]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(select(WebhookEvent).where(WebhookEvent.source == source))
        return list(rows.all())


async def _post(client: httpx.AsyncClient, provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(f"/api/webhooks/{provider}", content=body, headers=headers)


async def test_github(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id, _ = await connect_with_push(client, owner, "github")
    await app.state.sandbox.webhooks.drain()
    (webhook,) = await push_webhooks(app, integration_id)
    secret = stored_secret(app, webhook)
    before = len(await _events(app, "github"))

    body, headers = github_delivery(secret, "ping", PING, delivery="delivery-1")
    accepted = await _post(client, "github", body, headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"received": True}
    replayed = await _post(client, "github", body, headers)
    assert replayed.status_code == 200

    wrong_secret = github_delivery("not-the-secret", "ping", PING)
    assert_error(await _post(client, "github", *wrong_secret), 401, "UNAUTHORIZED")
    _, signed_headers = github_delivery(secret, "ping", PING)
    tampered = orjson.dumps({**PING, "zen": "changed"})
    assert_error(await _post(client, "github", tampered, signed_headers), 401, "UNAUTHORIZED")
    for missing in ("X-Hub-Signature-256", "X-GitHub-Delivery", "X-GitHub-Event"):
        body, headers = github_delivery(secret, "ping", PING)
        del headers[missing]
        assert_error(await _post(client, "github", body, headers), 401, "UNAUTHORIZED")
    body, headers = github_delivery(secret, "ping", PING)
    headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].replace("sha256=", "sha1=")
    assert_error(await _post(client, "github", body, headers), 401, "UNAUTHORIZED")
    # Another repository's events are signed by no secret we hold.
    other_repo = {**PING, "repository": {"full_name": "acme/website"}}
    assert_error(await _post(client, "github", *github_delivery(secret, "ping", other_repo)), 401, "UNAUTHORIZED")

    stored = await _events(app, "github")
    assert len(stored) == before + 1
    assert [event.external_id for event in stored if event.external_id == "delivery-1"] == ["delivery-1"]


async def test_linear(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id, _ = await connect_with_push(client, owner, "linear")
    (webhook,) = await push_webhooks(app, integration_id)
    secret, webhook_id = stored_secret(app, webhook), str(webhook.external_id)

    body, headers = linear_delivery(secret, webhook_id, LINEAR_COMMENT, delivery="linear-1")
    assert (await _post(client, "linear", body, headers)).status_code == 200
    assert (await _post(client, "linear", body, headers)).status_code == 200

    stale = linear_delivery(secret, webhook_id, LINEAR_COMMENT, age_ms=61_000)
    error = assert_error(await _post(client, "linear", *stale), 401, "UNAUTHORIZED")
    assert "60 second" in error["message"]
    assert_error(
        await _post(client, "linear", *linear_delivery("wrong", webhook_id, LINEAR_COMMENT)), 401, "UNAUTHORIZED"
    )
    assert_error(
        await _post(client, "linear", *linear_delivery(secret, "unknown-webhook", LINEAR_COMMENT)), 401, "UNAUTHORIZED"
    )
    body, headers = linear_delivery(secret, webhook_id, LINEAR_COMMENT)
    assert_error(await _post(client, "linear", body + b" ", headers), 401, "UNAUTHORIZED")
    for missing in ("Linear-Signature", "Linear-Delivery"):
        body, headers = linear_delivery(secret, webhook_id, LINEAR_COMMENT)
        del headers[missing]
        assert_error(await _post(client, "linear", body, headers), 401, "UNAUTHORIZED")

    assert [event.external_id for event in await _events(app, "linear")] == ["linear-1"]


async def test_jira(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id, _ = await connect_with_push(client, owner, "jira")
    (webhook,) = await push_webhooks(app, integration_id)
    payload = {**JIRA_COMMENT, "matchedWebhookIds": [int(str(webhook.external_id))]}
    client_secret = "sandbox-secret-jira"

    body, headers = jira_delivery(client_secret, payload, delivery="jira-1")
    assert (await _post(client, "jira", body, headers)).status_code == 200
    assert (await _post(client, "jira", body, headers)).status_code == 200

    assert_error(await _post(client, "jira", *jira_delivery("another-app-secret", payload)), 401, "UNAUTHORIZED")
    body, headers = jira_delivery(client_secret, payload)
    del headers["Authorization"]
    assert_error(await _post(client, "jira", body, headers), 401, "UNAUTHORIZED")
    body, headers = jira_delivery(client_secret, payload)
    del headers["X-Atlassian-Webhook-Identifier"]
    assert_error(await _post(client, "jira", body, headers), 401, "UNAUTHORIZED")
    body, headers = jira_delivery(client_secret, payload)
    headers["Authorization"] = headers["Authorization"][:-2] + "xx"
    assert_error(await _post(client, "jira", body, headers), 401, "UNAUTHORIZED")

    assert [event.external_id for event in await _events(app, "jira")] == ["jira-1"]


async def test_signed_but_not_json_is_a_bad_request(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    _, headers = jira_delivery("sandbox-secret-jira", {})
    assert_error(await _post(client, "jira", b"not json", headers), 400, "BAD_REQUEST")
    assert await _events(app, "jira") == []
