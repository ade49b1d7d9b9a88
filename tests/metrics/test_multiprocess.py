"""Several processes, one /metrics: each writes its own files in PROMETHEUS_MULTIPROC_DIR, any of them answers
with the sum. Real servers as subprocesses on free ports, against the test database."""

import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from platform_server.config import Settings
from tests.conftest import TEST_SECRET_KEY, Database
from tests.metrics.helpers import delta, parse
from tests.servers import free_port, running_server

PYTHON = sys.executable
COMMAND = str(Path(sys.executable).parent / "platform-server")
HEALTH = {"method": "GET", "route": "/healthz", "status": "200"}
SCRAPES = {"method": "GET", "route": "/metrics", "status": "200"}


@pytest.fixture
def database(database: Database) -> Database:
    """Summing the processes' metrics is the same on either database; the servers start against PostgreSQL,
    the database of multi-process deployments, and the SQLite half of the parametrization is skipped."""
    if database.backend != "postgres":
        pytest.skip("metrics of several processes do not depend on the database: checked on PostgreSQL")
    return database


def _environment(database: Database, port: int, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k.upper() not in Settings.model_fields}
    clean.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {
        **clean,
        "DATABASE_URL": database.url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "PLATFORM_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "METRICS_ENABLED": "true",
        **extra,
    }


def _scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return parse(response.text)


def _get_health(port: int, times: int) -> None:
    for _ in range(times):
        # A connection per request: with several workers on one socket, each may be answered by another one.
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200


def test_two_servers_sharing_a_directory_report_each_others_requests(database: Database, tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    ports = free_port(), free_port()
    servers = [
        running_server(
            [PYTHON, "-m", "uvicorn", "platform_server.app:create_app", "--factory", "--port", str(port)],
            env=_environment(database, port, PROMETHEUS_MULTIPROC_DIR=str(directory)),
            cwd=tmp_path,
            base_url=f"http://127.0.0.1:{port}",
        )
        for port in ports
    ]
    with servers[0] as first, servers[1] as second:
        before = _scrape(ports[0])
        _get_health(ports[0], 3)
        _get_health(ports[1], 5)
        after = _scrape(ports[1])
        pids = {int(match) for match in re.findall(r"_(\d+)\.db$", "\n".join(map(str, directory.iterdir())), re.M)}

    assert delta(before, after, "platform_http_requests_total", **HEALTH) == 8
    # The first server's scrape, counted in its own file, is in the second's answer.
    assert delta(before, after, "platform_http_requests_total", **SCRAPES) == 1
    assert delta(before, after, "platform_http_request_duration_seconds_count", method="GET", route="/healthz") == 8
    assert {first.pid, second.pid} <= pids
    # Summed series carry no per-process label.
    assert all("pid" not in dict(labels) for name, labels in after if name.startswith("platform_"))


@pytest.mark.redis
def test_serve_with_workers_sums_them_in_a_directory_of_its_own(
    database: Database, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = _environment(database, port, REDIS_URL=redis_url, REDIS_KEY_PREFIX=f"metrics-{port}")
    command = [COMMAND, "serve", "--port", str(port), "--workers", "2", "--no-migrate"]
    with running_server(command, env=env, cwd=tmp_path, base_url=f"http://127.0.0.1:{port}") as server:
        before = _scrape(port)
        _get_health(port, 20)
        after = _scrape(port)
    assert server.stderr is not None
    stderr = server.stderr.read().decode()
    [directory] = re.findall(r"Metrics of every worker are summed from (\S+)", stderr)

    assert delta(before, after, "platform_http_requests_total", **HEALTH) == 20
    assert delta(before, after, "platform_http_request_duration_seconds_count", method="GET", route="/healthz") == 20
    # Made for the run, gone with it.
    assert not Path(directory).exists()
