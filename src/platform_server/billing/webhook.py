"""Stripe webhook verification with the official library, against every configured secret (rotation)."""

from typing import Any

import orjson
import stripe

from platform_server.errors import BadRequest, NotFound
from platform_server.webhook_events.intake import InvalidSignature, ensure_storable

TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE


def verify_stripe_event(secrets: list[str], body: bytes, signature: str | None) -> dict[str, Any]:
    """Returns the event as plain data once the signature matches one secret and is recent (300 s)."""
    if not secrets:
        raise NotFound("The Stripe webhook endpoint is disabled: STRIPE_WEBHOOK_SECRET is not set")
    if not signature:
        raise InvalidSignature("Missing Stripe-Signature header")
    reasons: list[str] = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body, signature, secret, tolerance=TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as exc:
            reasons.append(str(exc))
            continue
        except UnicodeDecodeError as exc:
            raise BadRequest("Webhook body is not UTF-8") from exc
        break
    else:
        # A stale timestamp only shows up for the secret that signed the event; that reason is the useful one.
        reason = next((r for r in reasons if "tolerance" in r), reasons[-1])
        raise InvalidSignature("Invalid Stripe signature", details={"reason": reason})
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Webhook body is not valid JSON") from exc
    if (
        not isinstance(event, dict)
        or event.get("object") != "event"
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("created"), int)
    ):
        raise BadRequest("Webhook body is not a Stripe event (thin events are not supported)")
    ensure_storable(event["id"], event["type"], event)
    return event
