"""GET /metrics: off unless enabled, a bearer token when one is set, no API key and no rate limit."""

from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from platform_server.metrics.registry import JobFailure, record_job_failure
from platform_server.metrics.service import QueueStats
from tests.conftest import Member
from tests.helpers import assert_error
from tests.metrics.helpers import delta, parse, scrape, value

TOKEN = "scrape-token-0123456789"


class TestDisabled:
    async def test_answers_404_in_the_error_format(self, client: httpx.AsyncClient, owner: Member) -> None:
        error = assert_error(await client.get("/metrics", headers=owner.headers), 404, "NOT_FOUND")
        assert "METRICS_ENABLED" in error["message"]

    async def test_requests_are_not_counted(self, client: httpx.AsyncClient) -> None:
        # The hook is installed only with metrics on: the request path pays nothing otherwise.
        labels = {"method": "GET", "route": "/healthz", "status": "200"}
        before = REGISTRY.get_sample_value("platform_http_requests_total", labels)
        assert (await client.get("/healthz")).status_code == 200
        assert REGISTRY.get_sample_value("platform_http_requests_total", labels) == before


class TestOpen:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"METRICS_ENABLED": True}

    async def test_serves_the_text_format_without_an_api_key(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        families = {family.name for family in text_string_to_metric_families(response.text)}
        # One process: the default registry, with the process collector beside ours.
        assert {"process_cpu_seconds", "platform_http_requests", "platform_tool_calls"} <= families

    async def test_is_outside_the_openapi_document(self, client: httpx.AsyncClient) -> None:
        assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]

    async def test_is_not_rate_limited(self, client: httpx.AsyncClient, app: Any) -> None:
        for _ in range(5):
            response = await client.get("/metrics")
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers

    async def test_counts_its_own_scrapes(self, client: httpx.AsyncClient) -> None:
        before = await scrape(client)
        after = await scrape(client)
        labels = {"method": "GET", "route": "/metrics", "status": "200"}
        assert (
            value(after, "platform_http_requests_total", **labels)
            == value(before, "platform_http_requests_total", **labels) + 1
        )


class TestToken:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"METRICS_ENABLED": True, "METRICS_TOKEN": TOKEN, "RATE_LIMIT_PUBLIC_PER_MINUTE": 2}

    @pytest.mark.parametrize(
        "authorization",
        [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN],
    )
    async def test_refuses_a_missing_or_wrong_token(self, client: httpx.AsyncClient, authorization: str | None) -> None:
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = await client.get("/metrics", headers=headers)
        assert_error(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text

    async def test_an_api_key_is_not_the_token(self, client: httpx.AsyncClient, owner: Member) -> None:
        assert_error(await client.get("/metrics", headers=owner.headers), 401, "UNAUTHORIZED")

    async def test_serves_with_the_token(self, client: httpx.AsyncClient) -> None:
        for scheme in ("Bearer", "bearer"):
            response = await client.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
            assert response.status_code == 200
            assert "platform_http_requests_total" in response.text

    async def test_wrong_tokens_are_not_limited_as_failed_authentication(self, client: httpx.AsyncClient) -> None:
        # The scrape answers on its own terms: neither the public nor the failed-auth limit applies to it.
        for _ in range(30):
            assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200


class TestQueueStats:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"METRICS_ENABLED": True}

    async def test_no_queue_gauges_without_a_source(self, client: httpx.AsyncClient, app: Any) -> None:
        # The app registers the job layer's queues at startup; without a source the gauges are left out.
        app.state.metrics.register_queue_stats(None)
        text = (await client.get("/metrics")).text
        assert "platform_jobs_queued" not in text
        assert "platform_job_oldest_age_seconds" not in text

    async def test_a_synchronous_source(self, client: httpx.AsyncClient, app: Any) -> None:
        app.state.metrics.register_queue_stats(
            lambda: {"default": QueueStats(queued=7, oldest_age_seconds=12.5), "sync": QueueStats(0, 0.0)}
        )
        samples = await scrape(client)
        assert value(samples, "platform_jobs_queued", queue="default") == 7
        assert value(samples, "platform_job_oldest_age_seconds", queue="default") == 12.5
        assert ("platform_jobs_queued", frozenset({("queue", "sync")})) in samples

    async def test_an_asynchronous_source(self, client: httpx.AsyncClient, app: Any) -> None:
        async def stats() -> dict[str, QueueStats]:
            return {"sync": QueueStats(queued=3, oldest_age_seconds=1.0)}

        app.state.metrics.register_queue_stats(stats)
        samples = await scrape(client)
        assert value(samples, "platform_jobs_queued", queue="sync") == 3
        assert value(samples, "platform_job_oldest_age_seconds", queue="sync") == 1.0

    async def test_job_failures_by_task(self, client: httpx.AsyncClient) -> None:
        before = await scrape(client)
        record_job_failure("sync_integration", JobFailure.error)
        record_job_failure("sync_integration", JobFailure.error)
        record_job_failure("send_email", JobFailure.stalled)
        after = await scrape(client)
        failures = "platform_job_failures_total"
        assert delta(before, after, failures, task="sync_integration", reason="error") == 2
        assert delta(before, after, failures, task="send_email", reason="stalled") == 1

    async def test_a_failing_source_leaves_the_gauges_out(self, client: httpx.AsyncClient, app: Any) -> None:
        async def broken() -> dict[str, QueueStats]:
            raise ConnectionError("job store away")

        app.state.metrics.register_queue_stats(broken)
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert "platform_jobs_queued" not in response.text
        assert any(name == "platform_http_requests_total" for name, _ in parse(response.text))
