"""A local Stripe API for the subscription check: `GET /v1/subscriptions/{id}` answered in Stripe's own shapes
(the subscription object, or Stripe's `resource_missing` error), served by uvicorn on a free port."""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "sk_test_fake_0123456789"


@dataclass
class FakeStripe:
    base_url: str
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


def _error(status: int, code: str, message: str, error_type: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "type": error_type}}, status_code=status)


@asynccontextmanager
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    state = FakeStripe(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")

    async def retrieve(request: Request) -> JSONResponse:
        subscription_id = request.path_params["subscription_id"]
        state.requests.append(subscription_id)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "api_key_invalid", "Invalid API Key provided", "invalid_request_error")
        found = state.subscriptions.get(subscription_id)
        if found is None:
            message = f"No such subscription: '{subscription_id}'"
            return _error(404, "resource_missing", message, "invalid_request_error")
        return JSONResponse(found)

    app = Starlette(routes=[Route("/v1/subscriptions/{subscription_id}", retrieve)])
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    # uvicorn offers a flag, not an event, for "listening".
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    try:
        yield state
    finally:
        server.should_exit = True
        await serving
        sock.close()
