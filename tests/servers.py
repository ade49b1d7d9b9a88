"""Servers the tests start as processes of their own: a free port, and `platform-server` (or uvicorn) running
until /healthz answers, stopped at the end."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A port nothing listens on (once the probe is closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(
    command: list[str], *, env: dict[str, str], cwd: Path, base_url: str, timeout: float = 90
) -> Iterator[subprocess.Popen[bytes]]:
    """Starts `command` and yields once `base_url`/healthz answers 200; fails the test with the server's stderr
    when it exits or does not answer in time. Its stderr stays readable after the block.

    The server leads a process group of its own, killed whole at the end: worker processes it started never
    outlive it (holding its port, or its stderr open so that reading it would never end)."""
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _kill_group(process)
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"the server did not start (exit status {process.returncode}): {stderr}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        finally:
            _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
