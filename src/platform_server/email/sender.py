"""Where email goes: Resend's HTTP API when RESEND_API_KEY is set, otherwise a development log."""

from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version
from typing import Protocol

import httpx

from platform_server.config import Settings
from platform_server.integrations.providers.client import parse_retry_after
from platform_server.log import get_logger

logger = get_logger("platform_server.email")

# Resend answers in well under a second; a stalled call must not hold a webhook's transaction for long.
RESEND_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True, slots=True)
class OutboundEmail:
    sender: str
    to: str
    subject: str
    text: str
    idempotency_key: str
    html: str | None = None


class EmailSendFailed(Exception):
    """`transient` failures (network, 429, 5xx) are worth retrying with the same idempotency key, after
    `retry_after` when Resend said how long to wait."""

    def __init__(self, message: str, *, transient: bool, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class EmailSender(Protocol):
    async def send(self, message: OutboundEmail) -> str | None:
        """Sends the message; returns the provider's id for it (None when nothing tracks delivery)."""
        ...

    async def aclose(self) -> None: ...


class ResendSender:
    def __init__(self, base_url: str, api_key: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=RESEND_TIMEOUT,
            transport=transport,
            headers={
                "Authorization": f"Bearer {api_key}",
                # Resend refuses requests without a User-Agent (403, error 1010).
                "User-Agent": f"platform-server/{version('platform-server')}",
            },
        )

    async def send(self, message: OutboundEmail) -> str | None:
        body: dict[str, object] = {
            "from": message.sender,
            "to": [message.to],
            "subject": message.subject,
            "text": message.text,
        }
        if message.html is not None:
            body["html"] = message.html
        try:
            response = await self._client.post(
                "/emails", json=body, headers={"Idempotency-Key": message.idempotency_key}
            )
        except httpx.HTTPError as exc:
            reason = f"Resend could not be reached: {type(exc).__name__}"
            raise EmailSendFailed(reason, transient=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise EmailSendFailed(
                f"Resend answered {response.status_code}", transient=True, retry_after=_retry_after(response)
            )
        if response.is_error:
            raise EmailSendFailed(f"Resend refused the email: {_error_message(response)}", transient=False)
        email_id = _json_field(response, "id")
        if email_id is None:
            raise EmailSendFailed("Resend's answer carried no email id", transient=True)
        return email_id

    async def aclose(self) -> None:
        await self._client.aclose()


class LogSender:
    """Development backend: the email is recorded (by the caller) and written to the log, never sent."""

    async def send(self, message: OutboundEmail) -> str | None:
        logger.info("email_not_sent_no_resend_key", to=message.to, subject=message.subject, text=message.text)
        return None

    async def aclose(self) -> None:
        return None


def build_email_sender(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> EmailSender:
    if settings.RESEND_API_KEY is None or not settings.RESEND_API_KEY.get_secret_value():
        return LogSender()
    return ResendSender(settings.RESEND_API_BASE_URL, settings.RESEND_API_KEY.get_secret_value(), transport)


def _json_field(response: httpx.Response, field: str) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    value = payload.get(field) if isinstance(payload, dict) else None
    return value if isinstance(value, str) and value else None


def _retry_after(response: httpx.Response) -> timedelta | None:
    seconds = parse_retry_after(response.headers.get("retry-after"))
    return timedelta(seconds=seconds) if seconds is not None else None


def _error_message(response: httpx.Response) -> str:
    return _json_field(response, "message") or f"status {response.status_code}"
