"""The official MCP conformance suite (client mode) drives `platform-server mcp-conformance-client`: every
authorization scenario of spec versions 2025-03-26, 2025-06-18 and 2025-11-25, plus initialize and tools_call.
Six scenarios run at a time (each is a Node server and one run of our command, whose start-up is most of the
cost). Measured on 2 shared cores: 26 s for the 14 scenarios of `--suite auth` when lightly loaded; this whole
module took 2 to 4 minutes with the machine at load average 17 to 23."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.remote_mcp.upstreams import NODE, NODE_MODULES, REPO

CONFORMANCE = NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
COMMAND = f"{Path(sys.executable).parent / 'platform-server'} mcp-conformance-client"
SPEC_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
# Not authorization: the connection itself, and a tool call with arguments.
CORE_SCENARIOS = ("initialize", "tools_call")
AUTH_SCENARIOS = (
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/basic-cimd",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
    "auth/2025-03-26-oauth-metadata-backcompat",
    "auth/2025-03-26-oauth-endpoint-fallback",
    # Draft ones we pass too: a protected resource metadata document naming another resource is refused, and
    # offline_access is asked for exactly when the authorization server lists it.
    "auth/resource-mismatch",
    "auth/offline-access-scope",
    "auth/offline-access-not-supported",
)
SCENARIO_TIMEOUT_MS = 120_000
PARALLEL_SCENARIOS = 6


def _node(*args: str) -> list[str]:
    return [str(NODE), str(CONFORMANCE), *args]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, object]]]:
    """Every scenario's checks, several scenarios at a time."""
    output = tmp_path_factory.mktemp("conformance")
    env = {**os.environ, "REMOTE_MCP_ALLOW_PRIVATE": "1", "PYTHONPATH": str(REPO / "src")}

    def run(index: int, scenario: str) -> list[dict[str, object]]:
        directory = output / str(index)
        subprocess.run(
            _node(
                "client",
                *("--command", COMMAND, "--scenario", scenario),
                *("--timeout", str(SCENARIO_TIMEOUT_MS), "--output-dir", str(directory)),
            ),
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=SCENARIO_TIMEOUT_MS / 1000 + 30,
            check=False,
        )
        files = list(directory.rglob("checks.json"))
        checks: list[dict[str, object]] = json.loads(files[0].read_text()) if files else []
        return checks

    scenarios = CORE_SCENARIOS + AUTH_SCENARIOS
    # Bounded, so that on a busy machine no scenario's client runs into the suite's timeout.
    with ThreadPoolExecutor(max_workers=PARALLEL_SCENARIOS) as pool:
        return dict(zip(scenarios, pool.map(run, range(len(scenarios)), scenarios), strict=True))


def test_every_authorization_scenario_of_the_released_versions_is_run() -> None:
    listed = subprocess.run(_node("list", "--client"), capture_output=True, text=True, check=True, cwd=REPO).stdout
    released = {
        line.strip()[2:].split(" [")[0]
        for line in listed.splitlines()
        if line.strip().startswith("- auth/") and any(version in line for version in SPEC_VERSIONS)
    }
    assert released
    assert released <= set(AUTH_SCENARIOS)


@pytest.mark.parametrize("scenario", CORE_SCENARIOS + AUTH_SCENARIOS)
def test_scenario_passes(scenario: str, results: dict[str, list[dict[str, object]]]) -> None:
    checks = results[scenario]
    assert checks, f"{scenario} produced no checks"
    problems = [check for check in checks if check["status"] in {"FAILURE", "WARNING"}]
    assert not problems, json.dumps(problems, indent=2)
