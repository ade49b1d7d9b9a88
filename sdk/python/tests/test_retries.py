"""Retry policy, driven by a scripted server (httpx.MockTransport stands in for the network)."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from platform_api import AsyncPlatformClient, PlatformClient, PlatformError

ME: dict[str, Any] = {"user": {}, "team": {}, "plan": {}}
LIMITED = {"error": {"code": "RATE_LIMITED", "message": "Too many requests", "details": {}}}


Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*answers: httpx.Response) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    return seen, answer


def client_for(handler: Handler, **options: float) -> PlatformClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return PlatformClient(api_key="plat_test", base_url="http://api.test", http_client=http, **options)  # type: ignore[arg-type]


def test_429_is_retried_after_retry_after_then_succeeds() -> None:
    seen, handler = scripted(
        httpx.Response(429, json=LIMITED, headers={"Retry-After": "0"}), httpx.Response(200, json=ME)
    )
    assert dict(client_for(handler).me.get()) == ME
    assert len(seen) == 2
    assert seen[0].headers["authorization"] == "Bearer plat_test"


def test_429_is_retried_for_writes_too() -> None:
    seen, handler = scripted(
        httpx.Response(429, json=LIMITED, headers={"Retry-After": "0"}),
        httpx.Response(201, json={"id": "1", "name": "w"}),
    )
    assert client_for(handler).workspaces.create(name="w")["id"] == "1"
    assert [request.method for request in seen] == ["POST", "POST"]


def test_5xx_on_a_read_is_retried_up_to_the_cap() -> None:
    seen, handler = scripted(httpx.Response(503, json={"error": {"code": "UNAVAILABLE", "message": "down"}}))
    with pytest.raises(PlatformError) as error:
        client_for(handler, max_retries=3, max_retry_delay=0.01).features.list()
    assert len(seen) == 4
    assert (error.value.status, error.value.code, error.value.message) == (503, "UNAVAILABLE", "down")


def test_5xx_on_a_write_is_not_retried() -> None:
    seen, handler = scripted(httpx.Response(500, json={"error": {"code": "INTERNAL_ERROR", "message": "x"}}))
    with pytest.raises(PlatformError) as error:
        client_for(handler, max_retry_delay=0.01).features.create(workspaceId="1", title="t")
    assert len(seen) == 1
    assert error.value.status == 500


def test_a_retry_after_beyond_the_cap_fails_at_once() -> None:
    seen, handler = scripted(httpx.Response(429, json=LIMITED, headers={"Retry-After": "3600"}))
    with pytest.raises(PlatformError) as error:
        client_for(handler, max_retry_delay=5).me.get()
    assert len(seen) == 1
    assert error.value.response is not None
    assert error.value.response.headers["retry-after"] == "3600"


def test_no_retries_when_disabled() -> None:
    seen, handler = scripted(httpx.Response(502, text="bad gateway"))
    with pytest.raises(PlatformError) as error:
        client_for(handler, max_retries=0).me.get()
    assert len(seen) == 1
    # Not our error format (a proxy's page): the status still becomes a code.
    assert (error.value.code, error.value.details) == ("HTTP_ERROR", {})


def test_the_async_client_retries_the_same_way() -> None:
    seen, handler = scripted(
        httpx.Response(503, headers={"Retry-After": "0"}), httpx.Response(200, json=ME)
    )

    async def call() -> object:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncPlatformClient(api_key="k", base_url="http://api.test", http_client=http) as client:
            result = await client.me.get()
        await http.aclose()
        return result

    assert asyncio.run(call()) == ME
    assert len(seen) == 2


def test_path_ids_are_escaped() -> None:
    seen, handler = scripted(httpx.Response(200, json={"message": "ok"}))
    client_for(handler).features.delete("../api-keys/1")
    assert seen[0].url.raw_path == b"/api/features/..%2Fapi-keys%2F1"
