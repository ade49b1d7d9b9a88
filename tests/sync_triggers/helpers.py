"""Connecting providers with their webhooks registered, and signing deliveries the way each provider does."""

import hashlib
import hmac
import time
import uuid
from typing import Any

import httpx
import jwt
import orjson
from sqlalchemy import select

from platform_server.integrations.models import PushWebhook
from platform_server.integrations.push.service import secret_associated_data
from tests.conftest import Member
from tests.integrations.helpers import connect

# The scopes that let Platform register webhooks itself (Linear: admin; Jira: manage:jira-webhook).
PUSH_SCOPES = {
    "github": None,
    "linear": ["read", "write", "admin"],
    "jira": ["read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook", "offline_access"],
}
PROJECTS = {"github": "acme/product", "linear": "ENG", "jira": "PROJ"}


async def connect_with_push(
    client: httpx.AsyncClient, member: Member, provider: str, project: str | None = None
) -> tuple[str, str]:
    """Connects `provider` with webhook scopes and enables it for the member's workspace; (integration, access)."""
    scopes = PUSH_SCOPES[provider]
    authorization = await connect(client, member, provider, **({"scopes": scopes} if scopes else {}))
    body = {"integrationId": authorization.id, "defaultProject": project or PROJECTS[provider]}
    response = await client.post(
        f"/api/workspaces/{member.workspace_id}/integrations", json=body, headers=member.headers
    )
    assert response.status_code == 201, response.text
    return authorization.id, str(response.json()["accessId"])


async def enable(client: httpx.AsyncClient, member: Member, integration_id: str, project: str) -> None:
    """Enables the integration for the member's workspace with `project` as its defaultProject."""
    response = await client.post(
        f"/api/workspaces/{member.workspace_id}/integrations",
        json={"integrationId": integration_id, "defaultProject": project},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text


async def push_webhooks(app: Any, integration_id: str) -> list[PushWebhook]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(select(PushWebhook).where(PushWebhook.integration_id == integration_id))
        return list(rows.all())


def stored_secret(app: Any, webhook: PushWebhook) -> str:
    assert webhook.secret_encrypted is not None
    secret: str = app.state.encryptor.decrypt(webhook.secret_encrypted, secret_associated_data(webhook.id))
    return secret


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_delivery(
    secret: str, event: str, payload: dict[str, Any], delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    return body, {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hex_hmac(secret, body),
    }


def linear_delivery(
    secret: str, webhook_id: str, payload: dict[str, Any], *, age_ms: int = 0, delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({**payload, "webhookId": webhook_id, "webhookTimestamp": int(time.time() * 1000) - age_ms})
    return body, {
        "Content-Type": "application/json",
        "Linear-Event": str(payload.get("type", "Issue")),
        "Linear-Delivery": delivery or str(uuid.uuid4()),
        "Linear-Signature": hex_hmac(secret, body),
    }


def jira_delivery(
    client_secret: str, payload: dict[str, Any], delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    now = int(time.time())
    token = jwt.encode({"iss": "test", "iat": now, "exp": now + 300}, client_secret, algorithm="HS256")
    return orjson.dumps(payload), {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
        "X-Atlassian-Webhook-Identifier": delivery or str(uuid.uuid4()),
    }
