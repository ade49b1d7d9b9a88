"""The README's walkthrough of a remote MCP server beside GitHub, run as it is written: its bash block in a fresh
session from the repository root (the reference server and `platform-server serve --sandbox` as real processes,
on free ports instead of the README's, with a scratch SQLite database), its output compared with the README's."""

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.remote_mcp.upstreams import NODE, REPO, free_port

README = REPO / "README.md"
HEADING = "#### Walkthrough: a remote MCP server beside GitHub"
SERVER_PORT, UPSTREAM_PORT = "8765", "3001"
RUN_SECONDS = 240
# What a developer's shell might carry that would send the walkthrough elsewhere.
_INHERITED = ("DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "PUBLIC_BASE_URL", "PLATFORM_SANDBOX", "PLATFORM_ENV")


def walkthrough() -> tuple[str, list[str]]:
    """The section's bash block and the lines of the output block that follows it."""
    text = README.read_text()
    assert HEADING in text, "the README lost its walkthrough"
    # Up to the next heading (the block's own comments have a single #).
    section = re.split(r"\n#{2,} ", text.split(HEADING, 1)[1], maxsplit=1)[0]
    script = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    output = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    assert script is not None, "the walkthrough needs its bash block"
    assert output is not None, "the walkthrough needs its output (a text block after the bash block)"
    return script[1], output[1].splitlines()


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    if not NODE.exists():
        pytest.fail(f"Node 22 is missing at {NODE}: run `npm ci` in tests/mcp_upstream")
    script, expected = walkthrough()
    assert SERVER_PORT in script
    assert UPSTREAM_PORT in script
    script = script.replace(SERVER_PORT, str(free_port())).replace(UPSTREAM_PORT, str(free_port()))
    env = {key: value for key, value in os.environ.items() if key not in _INHERITED}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'walkthrough.db'}"
    # Its own process group, so that whatever the block left running is stopped with it.
    process = subprocess.Popen(
        ["bash", "-c", "set -eo pipefail\n" + script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=RUN_SECONDS)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 0, f"stdout:\n{stdout}\nstderr:\n{stderr}"
    # The two enablements' answers, then the client's output.
    lines = stdout.splitlines()
    assert len(lines) == 2 + len(expected), stdout
    assert all('"Integration enabled for workspace"' in line for line in lines[:2]), stdout
    assert lines[2:] == expected, stdout
