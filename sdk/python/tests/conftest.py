"""A live `platform-server serve --sandbox` on a free port with a fresh SQLite database, for the session.

PLATFORM_SERVER_BIN names the server command (default: the repository's .venv/bin/platform-server).
"""

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from platform_api import PlatformClient
from platform_api.models import ProviderName

REPO = Path(__file__).resolve().parents[3]
SERVER_BIN = os.environ.get("PLATFORM_SERVER_BIN") or str(REPO / ".venv" / "bin" / "platform-server")
# High enough that the suite never meets it; the headers still carry it, which the tests read back.
RATE_LIMIT = 5000


@dataclass(frozen=True)
class Server:
    base_url: str
    api_key: str
    workspace_id: str
    team_id: str

    @property
    def env(self) -> dict[str, str]:
        """The environment a user of the SDK would have: key, server and workspace."""
        return {
            **os.environ,
            "PLATFORM_API_KEY": self.api_key,
            "PLATFORM_BASE_URL": self.base_url,
            "PLATFORM_WORKSPACE_ID": self.workspace_id,
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    inherited = ("PLATFORM_", "REDIS_", "DATABASE_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'platform.db'}",
        "SECRET_KEY_FILE": str(folder / "secret"),
        "PUBLIC_BASE_URL": base_url,
        "PLATFORM_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_FREE_PER_MINUTE": str(RATE_LIMIT),
    }
    boot = subprocess.run(
        [SERVER_BIN, "bootstrap", "--team", "SDK", "--email", "sdk@example.com"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    identity = json.loads(boot.stdout.strip().splitlines()[-1])
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [SERVER_BIN, "serve", "--sandbox", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited: {(folder / 'server.log').read_text()}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start: {(folder / 'server.log').read_text()}")
            time.sleep(0.2)
        yield Server(base_url, identity["api_key"], identity["workspace_id"], identity["team_id"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def client(server: Server) -> Iterator[PlatformClient]:
    with PlatformClient(api_key=server.api_key, base_url=server.base_url) as api:
        yield api


@pytest.fixture
def workspace_id(client: PlatformClient) -> Iterator[str]:
    """A workspace of its own per test, so counts and pages are exact."""
    workspace = client.workspaces.create(name="SDK test")
    yield workspace["id"]
    client.workspaces.delete(workspace["id"])


def connect(server: Server, client: PlatformClient, provider: ProviderName) -> str:
    """Creates an integration and approves it as a person would: in a browser signed in to the settings page
    (the server finishes an authorization only for the signed-in user who started it)."""
    created = client.integrations.create(provider=provider)
    oauth_url = created["oauthUrl"]
    # A provider integration always starts pending with an authorization URL (remote MCP servers may not).
    assert isinstance(oauth_url, str), created
    with httpx.Client(base_url=server.base_url, timeout=30) as browser:
        sign_in = browser.get("/settings/sign-in")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', sign_in.text)
        assert csrf is not None, sign_in.text
        signed_in = browser.post(
            "/settings/sign-in", data={"csrf_token": csrf.group(1), "api_key": server.api_key}
        )
        assert signed_in.status_code == 303, signed_in.text
        form = {**dict(parse_qsl(urlsplit(oauth_url).query)), "decision": "approve"}
        decided = browser.post(oauth_url.split("?", 1)[0], data=form)
        assert decided.status_code == 302, decided.text
        location = decided.headers["location"]
        for _ in range(2):  # the API's callback hands over to the settings page's, which finishes
            location = browser.get(location).headers["location"]
    assert location.endswith(f"success={provider}"), location
    return created["integration"]["id"]
