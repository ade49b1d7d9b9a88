"""Every failure, ours or the framework's, rendered in the one error format."""

import json
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from platform_server.errors import ErrorBody, ErrorResponse, PlatformError
from platform_server.schemas import VARIANT_TAG_PREFIX

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_REF_TEMPLATE = "#/components/schemas/{model}"
_ERROR_RESPONSE_REF = _REF_TEMPLATE.format(model="ErrorResponse")
_HTTP_STATUS_CODES = {
    400: ("BAD_REQUEST", "The request could not be understood"),
    401: ("UNAUTHORIZED", "You must be authenticated to access this resource"),
    403: ("FORBIDDEN", "You are not allowed to perform this action"),
    404: ("NOT_FOUND", "No route matches this path"),
    405: ("METHOD_NOT_ALLOWED", "This method is not allowed on this route"),
    413: ("PAYLOAD_TOO_LARGE", "Request body is too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported content type"),
}


def error_json(
    status_code: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status_code=status_code,
        headers=headers,
    )


async def handle_platform_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PlatformError)
    return error_json(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_json(
            400,
            "BAD_REQUEST",
            "Request body is not valid JSON",
            {"hint": "Send a JSON object with Content-Type: application/json"},
        )
    fields = [
        {
            "field": ".".join(
                str(part)
                for part in error.get("loc", ())
                if not (isinstance(part, str) and part.startswith(VARIANT_TAG_PREFIX))
            ),
            "message": error.get("msg", "Invalid value"),
            "type": error.get("type", "value_error"),
        }
        for error in errors
    ]
    return error_json(422, "VALIDATION_ERROR", "Request validation failed", {"fields": fields})


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code, default_message = _HTTP_STATUS_CODES.get(exc.status_code, ("HTTP_ERROR", "Request failed"))
    message = exc.detail if isinstance(exc.detail, str) and exc.detail not in ("", _phrase(exc)) else default_message
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and "Allow" in headers:
        headers["Allow"] = _allowed_methods(request)
    return error_json(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> str:
    # Starlette answers 405 from the first route whose path matches, so its Allow names only that route's
    # methods; a path served by several routes (GET and POST /api/x) must list all of them. Asking the router
    # per method stays correct however routers are nested.
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


def internal_error_body(request_id: str) -> bytes:
    error = {
        "code": "INTERNAL_ERROR",
        "message": "An unexpected error occurred; quote the request id when reporting it",
        "details": {"requestId": request_id},
    }
    return json.dumps({"error": error}).encode()


def _phrase(exc: HTTPException) -> str:
    return HTTPStatus(exc.status_code).phrase


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PlatformError, handle_platform_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_exception)
    _document_validation_errors(app)


def _document_validation_errors(app: FastAPI) -> None:
    """Every 422 is rendered by `handle_validation_error`, so OpenAPI must not show FastAPI's default body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        for item in document.get("paths", {}).values():
            for operation in item.values():
                response = operation.get("responses", {}).get("422") if isinstance(operation, dict) else None
                if response is not None:
                    response["description"] = "Validation failed; details list the failing fields"
                    response["content"] = {"application/json": {"schema": {"$ref": _ERROR_RESPONSE_REF}}}
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ErrorResponse", ErrorResponse.model_json_schema(ref_template=_REF_TEMPLATE))
        schemas.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template=_REF_TEMPLATE))
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
