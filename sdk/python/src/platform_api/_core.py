"""What the sync and async clients share: configuration, errors, response metadata and the retry policy."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RETRY_DELAY = 30.0
USER_AGENT = "platform-api-python/0.1.0"

# A 5xx or a dropped connection may hide a write that happened; only these are safe to send twice.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RateLimit:
    """The X-RateLimit-* headers of one response (None when the response carried none)."""

    limit: int | None
    remaining: int | None
    reset: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        return cls(
            _int(headers.get("x-ratelimit-limit")),
            _int(headers.get("x-ratelimit-remaining")),
            _int(headers.get("x-ratelimit-reset")),
        )


@dataclass(frozen=True)
class ResponseInfo:
    """Status, headers, request id and rate limit of one HTTP response."""

    status: int
    headers: httpx.Headers
    request_id: str | None
    rate_limit: RateLimit

    @classmethod
    def from_response(cls, response: httpx.Response) -> ResponseInfo:
        return cls(
            response.status_code,
            response.headers,
            response.headers.get("x-request-id"),
            RateLimit.from_headers(response.headers),
        )


class PlatformError(Exception):
    """An error answer of the API (or a failure to reach it: status 0, code CONNECTION_ERROR)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        response: ResponseInfo | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id
        self.response = response

    @property
    def rate_limit(self) -> RateLimit | None:
        return self.response.rate_limit if self.response else None

    @classmethod
    def from_response(cls, response: httpx.Response) -> PlatformError:
        info = ResponseInfo.from_response(response)
        code = _HTTP_CODES.get(response.status_code, "HTTP_ERROR")
        message = response.reason_phrase
        details: dict[str, Any] = {}
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code", code))
            message = str(error.get("message", message))
            if isinstance(error.get("details"), dict):
                details = error["details"]
        request_id = info.request_id or details.get("requestId")
        return cls(response.status_code, code, message, details, request_id, info)


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
}


@dataclass(frozen=True)
class ClientOptions:
    api_key: str
    base_url: str
    timeout: float
    max_retries: int
    max_retry_delay: float
    on_response: Callable[[ResponseInfo], None] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        api_key: str | None,
        base_url: str | None,
        timeout: float | None,
        max_retries: int | None,
        max_retry_delay: float | None,
        on_response: Callable[[ResponseInfo], None] | None,
    ) -> ClientOptions:
        key = api_key or os.environ.get("PLATFORM_API_KEY")
        if not key:
            raise ValueError("No API key: pass api_key=... or set PLATFORM_API_KEY")
        url = (base_url or os.environ.get("PLATFORM_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        return cls(
            api_key=key,
            base_url=url,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max(0, max_retries),
            max_retry_delay=DEFAULT_MAX_RETRY_DELAY if max_retry_delay is None else max_retry_delay,
            on_response=on_response,
            headers={
                "Authorization": f"Bearer {key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )


def retry_delay(
    options: ClientOptions, method: str, status: int | None, headers: Mapping[str, str], attempt: int
) -> float | None:
    """Seconds to wait before the next attempt, or None when this outcome must not be retried.

    status None means the connection failed. A 429 is retried for every method because the server refused the
    request before doing anything; a 5xx or a lost connection only for idempotent methods. A Retry-After
    beyond max_retry_delay is not waited for: the error goes back to the caller at once.
    """
    if attempt >= options.max_retries:
        return None
    if status is None or status in RETRYABLE_STATUSES - {429}:
        if method.upper() not in IDEMPOTENT_METHODS:
            return None
    elif status != 429:
        return None
    announced = parse_retry_after(headers.get("retry-after"))
    if announced is not None:
        return announced if announced <= options.max_retry_delay else None
    backoff = min(options.max_retry_delay, 0.5 * 2**attempt)
    # Jitter spreads the retries of many clients that failed together; it needs no cryptographic quality.
    return float(backoff * (0.75 + random.random() / 2))  # noqa: S311


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def query(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drops the parameters left unset, so the server's defaults apply."""
    return {key: value for key, value in params.items() if value is not None}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
