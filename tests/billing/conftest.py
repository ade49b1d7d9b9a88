"""Stripe events built like the real ones (API version basil: the period lives on subscription items)."""

import time
from itertools import count
from typing import Any

import httpx
import orjson
import pytest
import stripe

from tests.email.conftest import RESEND_API_KEY, RESEND_BASE_URL, resend_sandbox

STRIPE_SECRET = "whsec_test_current_secret"
STRIPE_OLD_SECRET = "whsec_test_previous_secret"
PRO_PRICE = "price_pro_monthly"
OTHER_PRICE = "price_addon_seats"
PERIOD_END = 1_800_000_000
T0 = 1_767_000_000

_ids = count(1)

__all__ = ["resend_sandbox"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "STRIPE_WEBHOOK_SECRET": f"{STRIPE_SECRET},{STRIPE_OLD_SECRET}",
        "STRIPE_PRO_PRICE_IDS": PRO_PRICE,
        "RESEND_API_KEY": RESEND_API_KEY,
        "RESEND_API_BASE_URL": RESEND_BASE_URL,
    }


def event_id() -> str:
    return f"evt_{next(_ids):06d}"


def subscription_event(
    event_type: str = "customer.subscription.updated",
    *,
    created: int = T0,
    team_id: str | None = None,
    customer: str = "cus_1",
    subscription: str = "sub_1",
    status: str = "active",
    price: str = PRO_PRICE,
    period_end: int = PERIOD_END,
    cancel_at_period_end: bool = False,
    id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": id or event_id(),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {
            "object": {
                "id": subscription,
                "object": "subscription",
                "customer": customer,
                "status": status,
                "cancel_at_period_end": cancel_at_period_end,
                "metadata": {"team_id": team_id} if team_id else {},
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": "si_1",
                            "object": "subscription_item",
                            "price": {"id": price, "object": "price", "lookup_key": None, "product": "prod_1"},
                            "quantity": 1,
                            "current_period_start": period_end - 30 * 86400,
                            "current_period_end": period_end,
                        }
                    ],
                },
            }
        },
    }


def payment_failed_event(
    *,
    created: int = T0,
    invoice: str = "in_1",
    attempt: int = 1,
    customer: str = "cus_1",
    subscription: str | None = "sub_1",
    team_id: str | None = None,
) -> dict[str, Any]:
    details = {"subscription": subscription, "metadata": {"team_id": team_id} if team_id else {}}
    return {
        "id": event_id(),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "type": "invoice.payment_failed",
        "data": {
            "object": {
                "id": invoice,
                "object": "invoice",
                "customer": customer,
                "status": "open",
                "attempt_count": attempt,
                "next_payment_attempt": created + 3 * 86400,
                "amount_due": 2900,
                "currency": "usd",
                "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice}",
                "parent": {"type": "subscription_details", "subscription_details": details} if subscription else None,
            }
        },
    }


def sign(payload: bytes, secret: str = STRIPE_SECRET, timestamp: int | None = None) -> str:
    return str(stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, timestamp=timestamp))


async def post_stripe(
    client: httpx.AsyncClient, event: dict[str, Any] | bytes, *, header: str | None = None, **signing: Any
) -> httpx.Response:
    payload = event if isinstance(event, bytes) else orjson.dumps(event)
    headers = {"Content-Type": "application/json", "Stripe-Signature": header or sign(payload, **signing)}
    return await client.post("/api/webhooks/stripe", content=payload, headers=headers)


def now() -> int:
    return int(time.time())
