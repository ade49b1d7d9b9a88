"""Email tests send through the simulated Resend API, mounted where the real app mounts it."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from svix.webhooks import Webhook

from platform_server.email.sender import build_email_sender
from platform_server.sandbox.resend import ResendSandboxStore, create_resend_sandbox

RESEND_API_KEY = "re_test_key_0123456789"
RESEND_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"resend-webhook-secret-for-tests!").decode()
RESEND_BASE_URL = "http://testserver/sandbox/resend"


@pytest.fixture
async def resend_sandbox(app: Any) -> AsyncIterator[ResendSandboxStore]:
    """Points the app's email sender, the one its jobs use, at the sandbox over an in-process transport (no
    network)."""
    sandbox = create_resend_sandbox({RESEND_API_KEY})
    sender = build_email_sender(app.state.settings, transport=resend_transport(sandbox))
    resources = app.state.resources
    previous = resources.email_sender
    app.state.email_sender = resources.email_sender = sender
    yield sandbox.state.store
    app.state.email_sender = resources.email_sender = previous
    await sender.aclose()


def resend_transport(sandbox: Starlette) -> httpx.ASGITransport:
    """Serves the sandbox under /sandbox/resend, where the app mounts it, without a network."""
    return httpx.ASGITransport(app=Starlette(routes=[Mount("/sandbox/resend", sandbox)]))


def sign_resend(
    body: bytes, svix_id: str, secret: str = RESEND_WEBHOOK_SECRET, at: datetime | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "svix-id": svix_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(svix_id, at, body.decode()),
        "content-type": "application/json",
    }


def resend_event(event_type: str, email_id: str, to: str = "ada@example.com", **extra: Any) -> bytes:
    created = extra.pop("created_at", None) or datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data = {"email_id": email_id, "from": "Platform <noreply@platform.local>", "to": [to], "subject": "Hi", **extra}
    return orjson.dumps({"type": event_type, "created_at": created, "data": data})


async def post_resend(client: httpx.AsyncClient, body: bytes, svix_id: str, **sign: Any) -> httpx.Response:
    return await client.post("/api/webhooks/resend", content=body, headers=sign_resend(body, svix_id, **sign))
