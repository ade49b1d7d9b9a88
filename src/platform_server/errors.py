"""One error base class, rendered everywhere as {"error": {"code", "message", "details"}}."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class PlatformError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class BadRequest(PlatformError):
    status_code = 400
    code = "BAD_REQUEST"


class Unauthorized(PlatformError):
    status_code = 401
    code = "UNAUTHORIZED"

    def __init__(
        self,
        message: str = "You must be authenticated to access this resource",
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class Forbidden(PlatformError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(PlatformError):
    status_code = 404
    code = "NOT_FOUND"


class MethodNotAllowed(PlatformError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"


class Conflict(PlatformError):
    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(PlatformError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(PlatformError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class ValidationFailed(PlatformError):
    status_code = 422
    code = "VALIDATION_ERROR"


class RateLimited(PlatformError):
    status_code = 429
    code = "RATE_LIMITED"


class BadGateway(PlatformError):
    """A server we act as a client of (a team's remote MCP server) failed or could not be reached."""

    status_code = 502
    code = "UPSTREAM_UNAVAILABLE"


class ServiceUnavailable(PlatformError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"


class ResourceNotFound(NotFound):
    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(f"{resource} {resource_id} was not found", details={"id": resource_id})


class ErrorBody(BaseModel):
    code: str = Field(examples=["NOT_FOUND"])
    message: str = Field(examples=["Workspace 7390123456789012345 was not found"])
    details: dict[str, Any] = Field(default_factory=dict, examples=[{"id": "7390123456789012345"}])


class ErrorResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "UNAUTHORIZED",
                        "message": "You must be authenticated to access this resource",
                        "details": {},
                    }
                }
            ]
        }
    )

    error: ErrorBody


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can answer."""
    descriptions = {
        400: "Bad request",
        401: "Missing, malformed, unknown or revoked API key",
        403: "The caller's role does not allow this action",
        404: "Not found (also for another team's resources)",
        409: "Conflict with the current state",
        413: "Request body too large",
        422: "Validation failed; details list the failing fields",
        429: "Rate limit exceeded",
        502: "An upstream server failed or could not be reached",
        503: "A dependency is unavailable",
    }
    return {code: {"model": ErrorResponse, "description": descriptions[code]} for code in status_codes}
