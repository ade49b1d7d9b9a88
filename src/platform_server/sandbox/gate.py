"""In front of each simulated provider: request counters, fault injection and rate-limit headers."""

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_server.sandbox.common import json_response
from platform_server.sandbox.store import SandboxStore

_HOURLY_BUDGET = {"github": 5000, "jira": 350, "linear": 5000}
_WINDOW_SECONDS = 3600


class ProviderGate:
    """Pure-ASGI wrapper of one provider app. Counts every request under its route template
    (`store.count("github", "GET", "/repos/{owner}/{repo}/issues")`) and applies `store.faults`."""

    def __init__(
        self, app: ASGIApp, router: Router, store: SandboxStore, provider: str, browser_paths: set[str]
    ) -> None:
        self.app = app
        self.router = router
        self.store = store
        self.provider = provider
        self.browser_paths = browser_paths
        self._window_start = 0.0
        self._used = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        template = self._template(scope)
        store = self.store
        store.counters[f"{self.provider} {scope['method']} {template}"] += 1
        faults = store.faults
        if template in self.browser_paths or not faults.applies_to(self.provider):
            await self.app(scope, receive, send)
            return
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        number = store.next_fault_number(self.provider)
        if faults.rate_limit_every and number % faults.rate_limit_every == 0:
            await self._rate_limited(scope, receive, send)
            return
        if (faults.error_every and number % faults.error_every == 0) or (
            faults.error_rate and store.random.random() < faults.error_rate
        ):
            await self._server_error(scope, receive, send)
            return
        await self.app(scope, receive, self._with_rate_limit_headers(send))

    def _template(self, scope: Scope) -> str:
        for route in self.router.routes:
            if isinstance(route, Route):
                match, _ = route.matches(scope)
                if match is not Match.NONE:
                    return route.path
        root = scope.get("root_path", "")
        path: str = scope["path"]
        return path[len(root) :] if root and path.startswith(root) else path

    def _window(self) -> tuple[int, int, int]:
        """(limit, remaining, reset epoch seconds) of the current hourly window."""
        now = time.time()
        if now - self._window_start >= _WINDOW_SECONDS:
            self._window_start, self._used = now, 0
        self._used += 1
        limit = _HOURLY_BUDGET.get(self.provider, 0)
        return limit, max(0, limit - self._used), math.ceil(self._window_start + _WINDOW_SECONDS)

    def _with_rate_limit_headers(self, send: Send) -> Send:
        if self.provider not in _HOURLY_BUDGET:
            return send
        limit, remaining, reset = self._window()
        if self.provider == "github":
            extra = [
                (b"x-ratelimit-limit", str(limit).encode()),
                (b"x-ratelimit-remaining", str(remaining).encode()),
                (b"x-ratelimit-reset", str(reset).encode()),
                (b"x-ratelimit-used", str(limit - remaining).encode()),
                (b"x-ratelimit-resource", b"core"),
            ]
        elif self.provider == "linear":
            extra = [
                (b"x-ratelimit-requests-limit", str(limit).encode()),
                (b"x-ratelimit-requests-remaining", str(remaining).encode()),
                (b"x-ratelimit-requests-reset", str(reset * 1000).encode()),
            ]
        else:
            extra = [
                (b"x-ratelimit-limit", str(limit).encode()),
                (b"x-ratelimit-remaining", str(remaining).encode()),
                (b"x-ratelimit-nearlimit", b"true" if remaining < limit // 5 else b"false"),
            ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return send_with_headers

    async def _rate_limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self.store.faults.retry_after_seconds
        now = time.time()
        after = {"Retry-After": str(wait)}
        provider = self.provider
        secondary_status = self.store.faults.secondary_rate_limit_status
        if provider == "github" and secondary_status is not None:
            # A secondary limit: a message, the primary window not used up, and here no Retry-After.
            response = json_response(
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                    "again. If you reach out to GitHub Support for help, please include the request ID.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    "status": str(secondary_status),
                },
                secondary_status,
                {
                    "x-ratelimit-limit": "5000",
                    "x-ratelimit-remaining": "4990",
                    "x-ratelimit-reset": str(math.ceil(now + 3600)),
                    "x-ratelimit-used": "10",
                    "x-ratelimit-resource": "core",
                },
            )
        elif provider == "github":
            # The primary limit: 403 with remaining 0 and the reset as epoch seconds (no Retry-After).
            response = json_response(
                {
                    "message": "API rate limit exceeded for user ID 1. (But here's the good news: Authenticated "
                    "requests get a higher rate limit.)",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    "status": "403",
                },
                403,
                {
                    "x-ratelimit-limit": "5000",
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(math.ceil(now + wait)),
                    "x-ratelimit-used": "5000",
                    "x-ratelimit-resource": "core",
                },
            )
        elif provider == "jira":
            reset = datetime.fromtimestamp(now + wait, UTC).strftime("%Y-%m-%dT%H:%MZ")
            response = json_response(
                {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                429,
                {
                    **after,
                    "X-RateLimit-Reset": reset,
                    "X-RateLimit-Limit": "350",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-NearLimit": "true",
                    "RateLimit-Reason": "jira-burst-based",
                },
            )
        elif provider == "linear":
            # Linear signals rate limits in the GraphQL body (HTTP 400), with the reset in epoch milliseconds.
            response = json_response(
                {
                    "errors": [
                        {
                            "message": "Rate limit exceeded",
                            "extensions": {
                                "type": "ratelimited",
                                "code": "RATELIMITED",
                                "statusCode": 429,
                                "userPresentableMessage": "Rate limit exceeded, try again later.",
                            },
                        }
                    ]
                },
                400,
                {
                    "x-ratelimit-requests-limit": "5000",
                    "x-ratelimit-requests-remaining": "0",
                    "x-ratelimit-requests-reset": str(int((now + wait) * 1000)),
                },
            )
        elif provider == "notion":
            response = json_response(
                {
                    "object": "error",
                    "status": 429,
                    "code": "rate_limited",
                    "message": "You have been rate limited. Please try again in a few minutes.",
                    "additional_data": {"rate_limit_reason": "integration"},
                },
                429,
                after,
            )
        elif provider == "slack":
            response = json_response({"ok": False, "error": "ratelimited"}, 429, after)
        else:
            response = json_response({"status": 429, "err": "Rate limit exceeded"}, 429, after)
        await response(scope, receive, send)

    async def _server_error(self, scope: Scope, receive: Receive, send: Send) -> None:
        provider = self.provider
        if provider == "github":
            response = json_response({"message": "Server Error"}, 502)
        elif provider == "jira":
            response = json_response({"errorMessages": ["Internal server error"], "errors": {}}, 500)
        elif provider == "linear":
            response = json_response(
                {"errors": [{"message": "Internal server error", "extensions": {"type": "internal error"}}]},
                500,
            )
        elif provider == "notion":
            response = json_response(
                {"object": "error", "status": 502, "code": "internal_server_error", "message": "Bad gateway"},
                502,
            )
        elif provider == "slack":
            response = json_response({"ok": False, "error": "fatal_error"}, 500)
        else:
            response = json_response({"status": 500, "err": "Internal server error"}, 500)
        await response(scope, receive, send)


def provider_app(
    store: SandboxStore,
    provider: str,
    routes: Sequence[BaseRoute],
    error: Callable[[int, str], Response],
    browser_paths: set[str],
) -> ProviderGate:
    """A provider's Starlette app, with its error shape for unknown routes and wrong methods, behind a gate."""

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = "Not Found" if exc.status_code == 404 else "Method Not Allowed"
        return error(exc.status_code, message)

    app = Starlette(routes=list(routes), exception_handlers={404: http_error, 405: http_error})
    return ProviderGate(app, app.router, store, provider, browser_paths)
