"""Fixtures for the simulated providers: an app in sandbox mode on a migrated SQLite file of its own.

The sandbox needs no database, but the app's lifespan does; one SQLite file per session keeps these tests
off the SQLite/PostgreSQL matrix, which they have nothing to say about.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from platform_server import migrate
from platform_server.app import create_app
from platform_server.integrations.providers.client import ProviderHttp
from platform_server.sandbox.store import SandboxStore
from tests.conftest import make_settings

BASE_URL = "http://testserver"


@pytest.fixture(scope="session")
async def sandbox_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sandbox') / 'platform.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    return url


@pytest.fixture(scope="module")
def sandbox_settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the sandbox app's settings."""
    return {}


@pytest.fixture(scope="module")
async def sandbox_app(sandbox_database: str, sandbox_settings_overrides: dict[str, Any]) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(sandbox_database, PLATFORM_SANDBOX=True, **sandbox_settings_overrides))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def store(sandbox_app: FastAPI) -> SandboxStore:
    """The app is shared by a module's tests; its sandbox starts fresh for each."""
    sandbox: SandboxStore = sandbox_app.state.sandbox
    sandbox.reset()
    return sandbox


@pytest.fixture
def provider_http(sandbox_app: FastAPI, store: SandboxStore) -> ProviderHttp:
    http: ProviderHttp = sandbox_app.state.provider_http
    return http


@pytest.fixture
async def http(sandbox_app: FastAPI, store: SandboxStore) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client to the app, for calling the sandbox the way a provider SDK would."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app), base_url=BASE_URL) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
