"""Writes the X-RateLimit-* headers on every response the limiter counted, errors included."""

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_server.limits.limiter import STATE_KEY, RateLimitInfo


class RateLimitHeadersMiddleware:
    """Outermost, so the headers also reach responses rendered by other middleware (the 500 handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                info: RateLimitInfo | None = state.get(STATE_KEY)
                if info is not None:
                    message["headers"] = [*message.get("headers", ()), *info.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)
