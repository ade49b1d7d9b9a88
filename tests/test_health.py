from typing import Any

import httpx
import pytest

from platform_server.app import create_app
from platform_server.db import create_engine
from tests.conftest import make_settings


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_readyz_without_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "disabled"}}


@pytest.mark.parametrize(
    ("redis", "status", "expected"),
    [("configured", 200, "ok"), ("redis://127.0.0.1:1/0", 503, "error: ConnectionError")],
)
async def test_readyz_with_redis(database: Any, redis_url: str, redis: str, status: int, expected: str) -> None:
    app = create_app(make_settings(database.url, REDIS_URL=redis_url if redis == "configured" else redis))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        response = await http.get("/readyz")
    assert response.status_code == status
    assert response.json()["checks"] == {"database": "ok", "redis": expected}
    assert response.json()["status"] == ("ok" if status == 200 else "unavailable")


async def test_readyz_with_an_unreachable_database(app: Any, client: httpx.AsyncClient) -> None:
    # The database goes away after startup: the engine now points at a port nothing listens on.
    working = app.state.engine
    app.state.engine = create_engine(make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    try:
        response = await client.get("/readyz")
        assert (await client.get("/healthz")).status_code == 200
    finally:
        await app.state.engine.dispose()
        app.state.engine = working
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"].startswith("error: ")
    assert "127.0.0.1" not in response.text
