from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from platform_server.app import create_app
from platform_server.config import Settings
from platform_server.models import Workspace
from tests.conftest import Member, row_count
from tests.helpers import assert_error

MAX_BODY = 2048


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"MAX_BODY_BYTES": MAX_BODY}


async def test_unknown_route(client: httpx.AsyncClient, owner: Member) -> None:
    for path in ("/nope", "/api/nope", "/api/workspaces/1/nope"):
        assert_error(await client.get(path, headers=owner.headers), 404, "NOT_FOUND")
    assert_error(await client.get("/api/nope"), 404, "NOT_FOUND")


async def test_wrong_method(client: httpx.AsyncClient, owner: Member) -> None:
    response = await client.put("/api/workspaces", json={"name": "x"}, headers=owner.headers)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert_error(await client.post("/healthz"), 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_is_a_bad_request(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    headers = {**owner.headers, "Content-Type": "application/json"}
    for content in (b"{", b'{"name": }', b"nul", b'{"name": "x"} trailing'):
        error = assert_error(await client.post("/api/workspaces", content=content, headers=headers), 400, "BAD_REQUEST")
        assert "JSON" in error["message"]
    not_utf8 = '{"name": "\xe9"}'.encode("latin-1")
    assert_error(await client.post("/api/workspaces", content=not_utf8, headers=headers), 400, "BAD_REQUEST")
    assert await row_count(app, Workspace) == 1


async def test_oversized_body_with_content_length(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    response = await client.post("/api/workspaces", json={"name": "x" * (MAX_BODY + 1)}, headers=owner.headers)
    error = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"maxBytes": MAX_BODY}
    assert await row_count(app, Workspace) == 1


async def test_oversized_streamed_body(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'"}'

    headers = {**owner.headers, "Content-Type": "application/json"}
    response = await client.post("/api/workspaces", content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert await row_count(app, Workspace) == 1


async def test_streamed_body_under_the_limit_is_accepted(client: httpx.AsyncClient, owner: Member) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": '
        yield b'"Streamed"}'

    headers = {**owner.headers, "Content-Type": "application/json"}
    response = await client.post("/api/workspaces", content=chunks(), headers=headers)
    assert response.status_code == 201
    assert response.json()["name"] == "Streamed"


async def test_validation_error_lists_every_failing_field(client: httpx.AsyncClient, owner: Member) -> None:
    response = await client.post("/api/features", json={"title": "", "status": "x", "extra": 1}, headers=owner.headers)
    error = assert_error(response, 422, "VALIDATION_ERROR")
    fields = {field["field"] for field in error["details"]["fields"]}
    assert fields == {"body.workspaceId", "body.title", "body.status", "body.extra"}
    assert all(set(field) == {"field", "message", "type"} for field in error["details"]["fields"])


class TestRequestId:
    async def test_generated_on_every_response(self, client: httpx.AsyncClient, owner: Member) -> None:
        seen = set()
        for response in (
            await client.get("/healthz"),
            await client.get("/api/me", headers=owner.headers),
            await client.get("/api/me"),
            await client.get("/nope"),
        ):
            seen.add(response.headers["x-request-id"])
        assert len(seen) == 4

    async def test_sane_incoming_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "trace-abc.123_X"})
        assert response.headers["x-request-id"] == "trace-abc.123_X"

    @pytest.mark.parametrize("incoming", ["has space", "x" * 129, "semi;colon", "<script>"])
    async def test_insane_incoming_id_is_replaced(self, client: httpx.AsyncClient, incoming: str) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": incoming})
        assert response.headers["x-request-id"] != incoming
        assert len(response.headers["x-request-id"]) == 32


async def test_internal_error_has_request_id_and_no_trace(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/test-only/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("secret internals: plat_leakedKeyValue123")

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        response = await http.get("/test-only/boom", headers={"X-Request-ID": "req-500"})
    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert error["details"] == {"requestId": "req-500"}
    assert response.headers["x-request-id"] == "req-500"
    assert "Traceback" not in response.text
    assert "secret internals" not in response.text
    assert "RuntimeError" not in response.text
