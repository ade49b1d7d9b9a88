"""What every webhook delivery must satisfy, once its signature is verified, before anything of it is stored.

A delivery that can never be stored answers 400: the sender then stops retrying it, where a 500 would make it
retry for days. The text guard leaves these routes' bodies to this check, which runs after the signature's.
Every delivery is counted once answered (`counted_delivery`), by source, event type and outcome.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from platform_server.db import refused_for_its_values
from platform_server.errors import BadRequest, NotFound, Unauthorized
from platform_server.metrics.registry import record_webhook_event
from platform_server.text_guard import UNSTORABLE_TEXT_MESSAGE, describe, is_storable, unstorable_location
from platform_server.webhook_events.models import EXTERNAL_ID_LENGTH, TYPE_LENGTH, WebhookOutcome

# Every webhook route lives under this prefix (see TextGuardMiddleware).
WEBHOOK_PATH_PREFIX = "/api/webhooks/"


class InvalidSignature(Unauthorized):
    """The delivery's signature is missing, wrong or stale: the sender is not authenticated (401, as for the
    provider push webhooks), counted apart."""


@dataclass(slots=True)
class Delivery:
    """What the route learnt of one delivery: its type once verified, its outcome once handled."""

    event_type: str | None = None
    outcome: WebhookOutcome = WebhookOutcome.failed


@contextmanager
def counted_delivery(source: str) -> Iterator[Delivery]:
    """Counts the delivery handled inside in `platform_webhook_events_total`; a delivery to a disabled endpoint
    (404) is not one. The type of an unverified delivery is its sender's word, so it is never a label."""
    delivery = Delivery()
    outcome: WebhookOutcome | None = WebhookOutcome.failed
    try:
        yield delivery
        outcome = delivery.outcome
    except InvalidSignature:
        delivery.event_type, outcome = None, WebhookOutcome.invalid_signature
        raise
    except NotFound:
        outcome = None
        raise
    finally:
        if outcome is not None:
            record_webhook_event(source, delivery.event_type, outcome)


def ensure_storable(external_id: str, event_type: str, event: dict[str, Any]) -> None:
    if len(external_id) > EXTERNAL_ID_LENGTH or not is_storable(external_id):
        raise BadRequest(
            f"Webhook event id must be at most {EXTERNAL_ID_LENGTH} characters of storable text",
            details={"maxLength": EXTERNAL_ID_LENGTH},
        )
    if len(event_type) > TYPE_LENGTH:
        raise BadRequest(
            f"Webhook event type is longer than {TYPE_LENGTH} characters", details={"maxLength": TYPE_LENGTH}
        )
    location = unstorable_location(event)
    if location is not None:
        raise BadRequest(UNSTORABLE_TEXT_MESSAGE, details={"field": describe(("body", *location))})


@contextmanager
def refused_values_answer_400() -> Iterator[None]:
    """Applying the event failed because the database refused one of its values (a nested id longer than its
    column): a redelivery would fail the same way, so the sender is told to stop."""
    try:
        yield
    except Exception as exc:
        if not refused_for_its_values(exc):
            raise
        raise BadRequest(
            "Webhook event holds a value that cannot be stored", details={"reason": type(exc).__name__}
        ) from exc
