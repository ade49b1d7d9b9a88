"""The official TypeScript SDK client (npm `@modelcontextprotocol/sdk` 1.x) against a real server: it validates
`structuredContent` against each tool's output schema, so an error result that carried any would reach it as
a client-side exception instead of the message meant for the model.

Runs `npm ci` once in tests/gateway/ts_client (node_modules stays there), then starts `platform-server serve
--sandbox` on a free port and calls tools through node. Skipped without node/npm, except under
PLATFORM_REQUIRE_SERVICES=1, where their absence fails the test.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REQUIRE_SERVICES
from tests.integrations.helpers import connect_over_http
from tests.servers import free_port, running_server

PROJECT = Path(__file__).parent / "ts_client"
CLI = str(Path(sys.executable).parent / "platform-server")


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if REQUIRE_SERVICES:
            pytest.fail("node and npm are required (PLATFORM_REQUIRE_SERVICES=1) for the TypeScript client test")
        pytest.skip("node/npm not installed")
    return node, npm


def _install(npm: str) -> None:
    """`npm ci` unless node_modules already holds exactly the locked SDK."""
    lock = json.loads((PROJECT / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/@modelcontextprotocol/sdk"]["version"]
    installed = PROJECT / "node_modules/@modelcontextprotocol/sdk/package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == locked:
        return
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROJECT, check=True, capture_output=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real server (one uvicorn worker, SQLite, sandbox providers); answers its base URL and bootstrap ids."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ts.db'}",
        "PUBLIC_BASE_URL": base,
        "SECRET_KEY": "ts-client-test-secret-key-0123456789-abcdef",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([CLI, "migrate"], env=env, cwd=tmp_path, check=True, capture_output=True)
    boot = subprocess.run(
        [CLI, "bootstrap", "--team", "TS", "--email", "ts@example.com"],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    ids: dict[str, str] = json.loads(boot.stdout)
    serve = [CLI, "serve", "--port", str(port), "--no-migrate", "--sandbox"]
    with running_server(serve, env=env, cwd=tmp_path, base_url=base, timeout=60):
        yield base, ids


def _connect_github(base: str, key: str, workspace_id: str) -> None:
    """The OAuth round trip through the sandbox's consent page, then two tools enabled for the workspace."""
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        integration_id = connect_over_http(http, key, "github")
        enabled = http.post(
            f"/api/workspaces/{workspace_id}/integrations",
            json={
                "integrationId": integration_id,
                "enabledTools": ["github_list_issues", "github_list_repos"],
            },
            headers=auth,
        )
        assert enabled.status_code in (200, 201), enabled.text


def test_typescript_client_gets_readable_errors(server: tuple[str, dict[str, str]]) -> None:
    node, npm = _tools()
    _install(npm)
    base, ids = server
    _connect_github(base, ids["api_key"], ids["workspace_id"])
    url = f"{base}/api/workspaces/{ids['workspace_id']}/mcp"
    run = subprocess.run(
        [node, "call_tools.mjs", url, ids["api_key"]], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    assert report["tools"] == ["github_list_issues", "github_list_repos"]
    for case in ("notFound", "invalid", "notEnabled"):
        # The text meant for the model arrives; no validation exception stands in for it.
        assert "exception" not in report[case], report[case]
        assert report[case]["isError"] is True
        assert report[case]["structured"] is None
    assert "GitHub found nothing at /repos/acme/does-not-exist/issues" in report["notFound"]["text"]
    assert 'state: "sideways" is not one of "open", "closed", "all"' in report["invalid"]["text"]
    assert "not enabled for this workspace" in report["notEnabled"]["text"]
    # A success is validated against the output schema by the client, and passes.
    assert report["success"].get("isError") is False, report["success"]
    assert len(report["success"]["structured"]["issues"]) == 2
