"""Resend webhook verification: Svix signatures over the raw body, ±5 minutes."""

from typing import Any

import orjson
from svix.webhooks import Webhook, WebhookVerificationError

from platform_server.errors import BadRequest, NotFound
from platform_server.webhook_events.intake import InvalidSignature, ensure_storable

SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")


def verify_resend_event(secret: str | None, body: bytes, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Returns (svix-id, event) for a genuine delivery; raises NotFound when no secret is configured."""
    if not secret:
        raise NotFound("The Resend webhook endpoint is disabled: RESEND_WEBHOOK_SECRET is not set")
    missing = [name for name in SVIX_HEADERS if not headers.get(name)]
    if missing:
        raise InvalidSignature("Missing Svix signature headers", details={"missing": missing})
    try:
        Webhook(secret).verify(body, headers)
    # A signature header without a comma makes the library raise a bare ValueError, not its own error.
    except (WebhookVerificationError, ValueError) as exc:
        raise InvalidSignature("Invalid Resend webhook signature", details={"reason": str(exc)}) from exc
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Webhook body is not valid JSON") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise BadRequest("Webhook body is not a Resend event")
    ensure_storable(headers["svix-id"], event["type"], event)
    return headers["svix-id"], event
