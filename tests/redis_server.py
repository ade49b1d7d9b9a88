"""A redis-server of the test's own: stopping it, or reading every key in it, disturbs no one else's tests."""

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import REQUIRE_SERVICES
from tests.servers import free_port


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is required (PLATFORM_REQUIRE_SERVICES=1) but is not installed")
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    server = RedisServer(process, port)
    probe = redis.Redis(port=port, socket_connect_timeout=0.2)
    try:
        for _ in range(100):
            try:
                if probe.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("the test's own redis-server did not start within 5 s")
        yield server
    finally:
        probe.close()
        if process.poll() is None:
            server.stop()
