"""Each provider's webhook authentication, as the provider documents it, on the exact bytes received.

- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, one secret per registered webhook.
- Linear: `Linear-Signature: <hex HMAC-SHA256(secret, body)>`, and `webhookTimestamp` (ms) in the body within
  60 seconds of now.
- Jira (dynamic webhooks of an OAuth 2.0 app): `Authorization: Bearer <JWT>`, HS256-signed with the app's
  client secret; the body's `matchedWebhookIds` name the registrations it answers.

Every comparison is constant-time (`hmac.compare_digest`); no library wraps these HMAC schemes.
"""

import hashlib
import hmac
import time
from collections.abc import Iterable
from typing import Any, TypeVar

import jwt
import orjson

from platform_server.errors import BadRequest, Unauthorized

LINEAR_TIMESTAMP_TOLERANCE_MS = 60_000
# Clock difference allowed on the JWT's iat/exp.
JIRA_JWT_LEEWAY_SECONDS = 60

T = TypeVar("T")


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_by(candidates: Iterable[tuple[T, str]], body: bytes, signature: str) -> list[T]:
    """The candidates whose secret produced `signature` (hex) over `body`."""
    expected = signature.strip().lower().encode()
    return [
        item for item, secret in candidates if hmac.compare_digest(hmac_sha256_hex(secret, body).encode(), expected)
    ]


def github_signature(header: str | None) -> str:
    if not header:
        raise Unauthorized("Missing X-Hub-Signature-256 header")
    scheme, _, digest = header.partition("=")
    if scheme != "sha256" or not digest:
        raise Unauthorized("X-Hub-Signature-256 must read sha256=<hex digest>")
    return digest


def linear_signature(header: str | None) -> str:
    if not header:
        raise Unauthorized("Missing Linear-Signature header")
    return header


def check_linear_timestamp(event: dict[str, Any], now_ms: int | None = None) -> None:
    """Linear's replay guard: the signed body carries when it was sent."""
    sent = event.get("webhookTimestamp")
    if not isinstance(sent, int) or isinstance(sent, bool):
        raise Unauthorized("Linear webhook has no webhookTimestamp")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - sent) > LINEAR_TIMESTAMP_TOLERANCE_MS:
        raise Unauthorized(
            "Linear webhook timestamp is outside the 60 second window",
            details={"toleranceSeconds": LINEAR_TIMESTAMP_TOLERANCE_MS // 1000},
        )


def check_jira_jwt(authorization: str | None, client_secret: str) -> dict[str, Any]:
    """The claims of the bearer JWT Jira signs dynamic webhooks with; Unauthorized unless it verifies."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Missing Authorization: Bearer <JWT> header")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, client_secret, algorithms=["HS256"], leeway=JIRA_JWT_LEEWAY_SECONDS, options={"verify_aud": False}
        )
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("Invalid Jira webhook token", details={"reason": str(exc)}) from exc
    return claims


def json_object(body: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Webhook body is not valid JSON") from exc
    if not isinstance(event, dict):
        raise BadRequest("Webhook body is not a JSON object")
    return event
