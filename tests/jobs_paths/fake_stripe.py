"""A local Stripe API for the subscription check: `GET /v1/subscriptions/{id}` answered in Stripe's own shapes
(the subscription object, or Stripe's `resource_missing` error), served on a free port."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.jobs_paths.servers import serve_app

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
    subscriptions: dict[str, dict[str, Any]] = {}
    requests: list[str] = []

    async def retrieve(request: Request) -> JSONResponse:
        subscription_id = request.path_params["subscription_id"]
        requests.append(subscription_id)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "api_key_invalid", "Invalid API Key provided", "invalid_request_error")
        found = subscriptions.get(subscription_id)
        if found is None:
            message = f"No such subscription: '{subscription_id}'"
            return _error(404, "resource_missing", message, "invalid_request_error")
        return JSONResponse(found)

    app = Starlette(routes=[Route("/v1/subscriptions/{subscription_id}", retrieve)])
    async with serve_app(app) as base_url:
        yield FakeStripe(base_url, subscriptions, requests)
