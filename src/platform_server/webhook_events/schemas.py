from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import Response


class WebhookReceived(BaseModel):
    received: bool = Field(default=True, examples=[True])


def webhook_received_response() -> Response:
    """The answer FastAPI makes of `WebhookReceived()`, for a route that answers a `Response` itself (and
    declares `response_model=WebhookReceived` for its documentation)."""
    return Response(_RECEIVED, media_type="application/json")


_RECEIVED = WebhookReceived().model_dump_json().encode()


def raw_event_openapi(signature_headers: tuple[str, ...]) -> dict[str, Any]:
    """OpenAPI for a webhook route: the body is read raw (signatures cover its bytes): declare it by hand."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
        },
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string"}} for name in signature_headers
        ],
    }
