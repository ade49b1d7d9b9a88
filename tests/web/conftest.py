"""Browser fixtures: a real server (uvicorn on a free port, sandbox on, a fresh SQLite file) and Chromium.

Chromium is Debian's /usr/bin/chromium, driven by Playwright; no browser is ever downloaded. Without it the
browser tests skip, except with PLATFORM_REQUIRE_SERVICES=1 (CI), where they fail.
"""

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from platform_server import migrate
from platform_server.app import create_app
from platform_server.db import create_engine, create_sessionmaker
from platform_server.teams.service import team_service
from tests.conftest import REQUIRE_SERVICES, make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Chromium is required for browser tests: install it at {CHROMIUM} (apt-get install chromium)"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    database_url: str
    settings: Any


@dataclass(frozen=True)
class Account:
    team_id: str
    workspace_id: str
    api_key: str


class _ServerThread(threading.Thread):
    def __init__(self, server: uvicorn.Server, sock: socket.socket) -> None:
        super().__init__(name="live-server", daemon=True)
        self.server = server
        self.sock = sock

    def run(self) -> None:
        self.server.run(sockets=[self.sock])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_chromium()
    # Bound before the app exists: the port goes into PUBLIC_BASE_URL, and nobody can take it meanwhile.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('live') / 'platform.db'}"
    # Alembic runs its own event loop; in a thread of its own it cannot disturb the tests' loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(migrate.upgrade, database_url).result()
    # Remote MCP servers the tests start listen on loopback.
    settings = make_settings(
        database_url, PLATFORM_SANDBOX=True, PUBLIC_BASE_URL=base_url, REMOTE_MCP_ALLOW_PRIVATE=True
    )
    app = create_app(settings)
    config = uvicorn.Config(app, loop="asyncio", log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = _ServerThread(server, sock)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        pytest.fail("the live server did not start")
    try:
        yield LiveServer(base_url, database_url, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
async def account(live_server: LiveServer) -> Account:
    """A team of its own per test (one server serves them all), made as `platform-server bootstrap` does."""
    return await _bootstrap(live_server)


@pytest.fixture
async def other_account(live_server: LiveServer) -> Account:
    """A second team, for what one team must never do to another."""
    return await _bootstrap(live_server)


async def _bootstrap(live_server: LiveServer) -> Account:
    engine = create_engine(live_server.settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            team, _, workspace, _, secret = await team_service.bootstrap(
                session,
                team_name=f"Acme {uuid.uuid4().hex[:6]}",
                email=f"owner-{uuid.uuid4().hex[:8]}@example.com",
                workspace_name="Product",
            )
    finally:
        await engine.dispose()
    return Account(team.id, workspace.id, secret)


@pytest.fixture(scope="session")
async def browser(live_server: LiveServer) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) per test; dialogs would mean injected script, so they fail it."""
    viewport = {"width": 1280, "height": 900}
    context = await browser.new_context(base_url=live_server.base_url, viewport=viewport)
    tab = await context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), asyncio.ensure_future(dialog.dismiss())))
    try:
        yield tab
    finally:
        await context.close()
    assert not dialogs, f"the page opened dialogs: {dialogs}"


async def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"settings-{name}.png"), full_page=True)
