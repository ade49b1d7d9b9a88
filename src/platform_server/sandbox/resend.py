"""A simulated Resend API: POST /emails as the real one answers it, recording what was sent.

Mount it with `app.mount("/sandbox/resend", create_resend_sandbox())` and point RESEND_API_BASE_URL at
`<PUBLIC_BASE_URL>/sandbox/resend`. Like the real API it refuses a missing or unknown key (401/403), a missing
User-Agent (403), invalid fields (422) and an idempotency key reused for a different email (409). The store on
`app.state.store` holds the sent emails and a queue of failures to inject (e.g. 500 or 429) for tests.
"""

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_RECIPIENTS = 50
RATE_LIMITED_HEADERS = {"ratelimit-limit": "2", "ratelimit-remaining": "0", "ratelimit-reset": "1", "retry-after": "1"}


@dataclass
class SentEmail:
    id: str
    sender: str
    to: list[str]
    subject: str
    text: str | None
    html: str | None
    idempotency_key: str | None


@dataclass
class ResendSandboxStore:
    api_keys: set[str]
    emails: list[SentEmail] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    requests: int = 0
    idempotent: dict[str, tuple[str, str]] = field(default_factory=dict)

    def reset(self) -> None:
        self.emails.clear()
        self.fail_next.clear()
        self.requests = 0
        self.idempotent.clear()


def _error(status: int, name: str, message: str) -> JSONResponse:
    return JSONResponse({"statusCode": status, "name": name, "message": message}, status_code=status)


def _validate(body: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(body, dict):
        return None, "The request body must be a JSON object"
    to = body.get("to")
    recipients = [to] if isinstance(to, str) else to
    if not isinstance(recipients, list) or not recipients:
        return None, "`to` must be an email address or a list of them"
    if not all(isinstance(r, str) and "@" in r for r in recipients):
        return None, "`to` must be an email address or a list of them"
    if len(recipients) > MAX_RECIPIENTS:
        return None, f"`to` accepts at most {MAX_RECIPIENTS} recipients"
    if not isinstance(body.get("from"), str) or "@" not in body["from"]:
        return None, "`from` must be an email address, e.g. `Acme <onboarding@resend.dev>`"
    if not isinstance(body.get("subject"), str) or not body["subject"]:
        return None, "Missing `subject` field"
    if not isinstance(body.get("text"), str) and not isinstance(body.get("html"), str):
        return None, "Provide `text` or `html`"
    return {**body, "to": recipients}, None


def create_resend_sandbox(api_keys: set[str] | None = None) -> Starlette:
    """`api_keys`: the keys accepted; by default any key that looks like Resend's (`re_…`)."""
    store = ResendSandboxStore(api_keys=api_keys or set())

    async def send_email(request: Request) -> JSONResponse:
        store.requests += 1
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return _error(401, "missing_api_key", "Missing API key in the authorization header")
        key = authorization.removeprefix("Bearer ")
        known = key in store.api_keys if store.api_keys else key.startswith("re_")
        if not known:
            return _error(403, "invalid_api_key", "API key is invalid")
        if not request.headers.get("user-agent"):
            return _error(403, "missing_user_agent", "Requests must carry a User-Agent header")
        if store.fail_next:
            status = store.fail_next.pop(0)
            if status == 429:
                # Like Resend's: the rate limit headers, `retry-after` in seconds.
                limited = _error(status, "rate_limit_exceeded", "Too many requests (injected by the sandbox)")
                limited.headers.update(RATE_LIMITED_HEADERS)
                return limited
            return _error(status, "internal_server_error", "Injected by the sandbox")
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(422, "validation_error", "The request body is not valid JSON")
        email, problem = _validate(body)
        if email is None:
            return _error(422, "validation_error", problem or "Invalid email")
        idempotency_key = request.headers.get("idempotency-key")
        fingerprint = hashlib.sha256(orjson.dumps(email, option=orjson.OPT_SORT_KEYS)).hexdigest()
        if idempotency_key is not None:
            if len(idempotency_key) > 256:
                return _error(422, "validation_error", "Idempotency-Key must be at most 256 characters")
            seen = store.idempotent.get(idempotency_key)
            if seen is not None:
                if seen[1] != fingerprint:
                    return _error(409, "invalid_idempotent_request", "Idempotency key reused, other body")
                return JSONResponse({"id": seen[0]})
        email_id = str(uuid.uuid4())
        if idempotency_key is not None:
            store.idempotent[idempotency_key] = (email_id, fingerprint)
        store.emails.append(
            SentEmail(
                id=email_id,
                sender=email["from"],
                to=email["to"],
                subject=email["subject"],
                text=email.get("text"),
                html=email.get("html"),
                idempotency_key=idempotency_key,
            )
        )
        return JSONResponse({"id": email_id})

    app = Starlette(routes=[Route("/emails", send_email, methods=["POST"])])
    app.state.store = store
    return app
