"""Fixtures for the provider contract checks: the providers' definitions (npm packages pinned in
package-lock.json beside this file, installed with `npm ci`) and one recorded pass over every provider call.
"""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from platform_server import migrate
from platform_server.app import create_app
from platform_server.integrations.registry import PROVIDER_NAMES
from tests.conftest import make_settings
from tests.contracts import typed
from tests.contracts.definitions import definitions
from tests.contracts.exercise import exercise
from tests.contracts.openapi import OpenApi
from tests.contracts.recorder import Recorder
from tests.contracts.typed import SchemaField, TypeCheck


@pytest.fixture(scope="session")
async def recording(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Recorder]:
    """Every exchange between our provider clients and the sandbox during one pass over all provider code."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('contracts') / 'platform.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    app = create_app(make_settings(url, PLATFORM_SANDBOX=True))
    recorder = Recorder()
    async with app.router.lifespan_context(app):
        recorder.install(app.state.provider_http)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            for provider in PROVIDER_NAMES:
                recorder.tools_called |= await exercise(app, client, provider)
        yield recorder


@pytest.fixture(scope="session")
def github_openapi() -> OpenApi:
    """GitHub's official description of api.github.com (`@octokit/openapi`, without Octokit's extensions)."""
    return OpenApi(definitions() / "@octokit/openapi/generated/api.github.com.json", "urn:contracts:github")


@pytest.fixture(scope="session")
def figma_openapi() -> OpenApi:
    return OpenApi(definitions() / "@figma/rest-api-spec/openapi/openapi.yaml", "urn:contracts:figma")


@pytest.fixture(scope="session")
def type_check(recording: Recorder, tmp_path_factory: pytest.TempPathFactory) -> TypeCheck:
    """One `tsc` run over the Jira, Linear, Notion and Slack exchanges (about half a minute: Linear's types
    are large)."""
    node_modules = definitions()
    return typed.type_check(recording, node_modules, tmp_path_factory.mktemp("typecheck"), typed.run_tsc(node_modules))


@pytest.fixture(scope="session")
def linear_types() -> dict[str, dict[str, SchemaField]]:
    return typed.linear_schema(definitions())
