"""Pure-ASGI middleware: request id, access log, body size limit and the text guard."""

import re
import time
import uuid
from collections.abc import Callable

import structlog
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_server.errors import ErrorBody, ErrorResponse
from platform_server.exception_handlers import internal_error_body
from platform_server.log import get_logger
from platform_server.metrics.registry import RequestObserver
from platform_server.text_guard import (
    UNSTORABLE_TEXT_MESSAGE,
    Location,
    describe,
    form_body_location,
    json_body_location,
    path_location,
    query_location,
    raw_body_location,
)

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")

logger = get_logger("platform_server.access")


class RequestContextMiddleware:
    """Gives every request an id (echoed in X-Request-ID and bound to every log line), logs it once and hands
    it to `observe` (the request metrics, when enabled)."""

    def __init__(self, app: ASGIApp, observe: RequestObserver | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_code = 500

        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                status_code = message["status"]
                response_started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            # Handled here rather than by Starlette's outermost error middleware so that the 500 still
            # carries the request id; the traceback goes to the log, never to the client.
            logger.exception("unhandled_error", path=scope["path"])
            status_code = 500
            if not response_started:
                await _send_internal_error(send, request_id)
        finally:
            elapsed = time.perf_counter() - started
            if self.observe is not None:
                self.observe(scope, status_code, elapsed)
            logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status_code,
                duration_ms=round(elapsed * 1000, 2),
            )


async def _send_internal_error(send: Send, request_id: str) -> None:
    body = internal_error_body(request_id)
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _ACCEPTABLE_REQUEST_ID.match(candidate) else None
    return None


class BodyTooLarge(HTTPException):
    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(status_code=413, detail=_too_large_message(max_body_bytes))
        self.max_body_bytes = max_body_bytes


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit, whether announced by Content-Length or streamed without one."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._reject(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, send: Send) -> None:
        await _reject_too_large(send, self.max_body_bytes)


def _too_large_message(max_body_bytes: int) -> str:
    return f"Request body exceeds {max_body_bytes} bytes"


async def _reject_too_large(send: Send, max_body_bytes: int) -> None:
    error = ErrorBody(
        code="PAYLOAD_TOO_LARGE", message=_too_large_message(max_body_bytes), details={"maxBytes": max_body_bytes}
    )
    await _send_error(send, 413, error)


async def _send_error(send: Send, status: int, error: ErrorBody) -> None:
    body = ErrorResponse(error=error).model_dump_json().encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TextGuardMiddleware:
    """Refuses (422) a request whose path, query string or body holds text that no column or log can take.

    One check for every route, before any of them runs: the body is read here (within the size limit, so this
    sits inside `BodySizeLimitMiddleware`) and handed on unchanged. A clean body costs three byte scans (about
    a microsecond for a small one); only a body with a suspect escape is parsed, to name the field. The MCP
    endpoint's JSON-RPC body is checked the same way, so a `tools/call` with such text answers this 422 rather
    than a JSON-RPC error, and is never audited. Paths under `raw_body_prefixes` (signed webhooks) keep their
    body unchecked: they must verify the signature first, then refuse with 400.
    """

    def __init__(self, app: ASGIApp, raw_body_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.raw_body_prefixes = raw_body_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        location = path_location(path) or query_location(scope["query_string"])
        if location is not None:
            await _refuse_text(send, location)
            return
        if scope["method"] in _BODYLESS_METHODS or path.startswith(self.raw_body_prefixes):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except BodyTooLarge as exc:
            await _reject_too_large(send, exc.max_body_bytes)
            return
        if body is None:
            return  # The client went away before sending its body; nobody is left to answer.
        location = _body_checker(scope)(body) if body else None
        if location is not None:
            await _refuse_text(send, location)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _body_checker(scope: Scope) -> Callable[[bytes], Location | None]:
    media_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            break
    # No content type: read as JSON, as the MCP SDK and FastAPI's non-strict routes would.
    if media_type in (b"", b"application/json") or media_type.endswith(b"+json"):
        return json_body_location
    if media_type == b"application/x-www-form-urlencoded":
        return form_body_location
    return raw_body_location


async def _refuse_text(send: Send, location: Location) -> None:
    field = {"field": describe(location), "message": UNSTORABLE_TEXT_MESSAGE, "type": "text_unstorable"}
    error = ErrorBody(code="VALIDATION_ERROR", message="Request validation failed", details={"fields": [field]})
    await _send_error(send, 422, error)
