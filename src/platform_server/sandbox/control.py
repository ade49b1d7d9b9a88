"""`/sandbox/_control`: read counters and turn the fault knobs without touching Python objects."""

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from platform_server.integrations.registry import PROVIDER_NAMES
from platform_server.sandbox.common import json_response
from platform_server.sandbox.store import SandboxStore


class FaultSettings(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    latency_ms: int | None = Field(default=None, ge=0, le=60_000)
    rate_limit_every: int | None = Field(default=None, ge=0)
    error_every: int | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    retry_after_seconds: int | None = Field(default=None, ge=0, le=86_400)
    secondary_rate_limit_status: Literal[403, 429] | None = None
    token_lifetime_seconds: int | None = Field(default=None, ge=0)
    volume: int | None = Field(default=None, ge=0, le=1_000_000)
    providers: list[str] | None = None


class ItemChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    # `owner/repo#number` (GitHub), an issue identifier such as `ENG-12` (Linear), an issue key (Jira).
    item: str = Field(min_length=1, max_length=200)
    changes: dict[str, Any] = Field(default_factory=dict)


def _state(store: SandboxStore) -> dict[str, Any]:
    faults = store.faults
    return {
        "faults": {
            "latencyMs": faults.latency_ms,
            "rateLimitEvery": faults.rate_limit_every,
            "errorEvery": faults.error_every,
            "errorRate": faults.error_rate,
            "retryAfterSeconds": faults.retry_after_seconds,
            "secondaryRateLimitStatus": faults.secondary_rate_limit_status,
            "tokenLifetimeSeconds": faults.token_lifetime_seconds,
            "volume": faults.volume,
            "providers": faults.providers,
        },
        "counters": dict(sorted(store.counters.items())),
        "tokens": {"access": len(store.access_tokens), "refresh": len(store.refresh_tokens)},
    }


def control_routes(store: SandboxStore, prefix: str = "/sandbox/_control") -> list[Route]:
    async def show(_request: Request) -> Response:
        return json_response(_state(store))

    async def update(request: Request) -> Response:
        try:
            settings = FaultSettings.model_validate(orjson.loads(await request.body() or b"{}"))
        except orjson.JSONDecodeError:
            return json_response({"error": "The body must be a JSON object"}, 400)
        except ValidationError as exc:
            return json_response({"error": "Invalid knobs", "details": exc.errors(include_url=False)}, 422)
        unknown = [name for name in settings.providers or [] if name not in PROVIDER_NAMES]
        if unknown:
            return json_response({"error": f"Unknown providers: {', '.join(unknown)}"}, 422)
        for name in settings.model_fields_set:
            setattr(store.faults, name, getattr(settings, name))
        return json_response(_state(store))

    async def change(request: Request) -> Response:
        """Change one item as a user would at the provider; hooks registered for it are notified."""
        try:
            body = ItemChange.model_validate(orjson.loads(await request.body() or b"{}"))
        except orjson.JSONDecodeError:
            return json_response({"error": "The body must be a JSON object"}, 400)
        except ValidationError as exc:
            return json_response({"error": "Invalid change", "details": exc.errors(include_url=False)}, 422)
        changer = store.webhooks.changers.get(body.provider)
        if changer is None:
            return json_response({"error": f"{body.provider} items cannot be changed here"}, 422)
        try:
            changer(body.item, body.changes)
        except KeyError:
            return json_response({"error": f"No {body.provider} item {body.item}"}, 404)
        return json_response({"changed": body.item})

    async def reset(_request: Request) -> Response:
        store.reset()
        return json_response(_state(store))

    return [
        Route(prefix, show, methods=["GET"]),
        Route(prefix, update, methods=["POST"]),
        Route(f"{prefix}/reset", reset, methods=["POST"]),
        Route(f"{prefix}/changes", change, methods=["POST"]),
    ]
