"""`platform-server sync`: progress totals, and the command run as the README says against a live sandbox server."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from platform_server.integrations.sync.schemas import SyncRequest, SyncType
from platform_server.integrations.sync.service import sync_service
from tests.conftest import Member
from tests.integrations.helpers import connect_over_http
from tests.servers import free_port, running_server
from tests.sync.helpers import connect_and_enable
from tests.test_cli import COMMAND, run

Report = tuple[int, int, int | None]


async def _run_with_progress(app: Any, member: Member, integration_id: str, body: SyncRequest) -> list[Report]:
    reports: list[Report] = []
    async with app.state.sessionmaker() as session:
        plan, integration = await sync_service.plan(session, member.team_id, integration_id, body)
    log = await sync_service.claim(app.state.sessionmaker, plan)
    client = app.state.token_manager.client_for(integration)
    outcome = await sync_service.run(app.state.sessionmaker, plan, log, client, lambda *report: reports.append(report))
    assert outcome.status == "completed", outcome
    return reports


async def test_github_import_reports_its_total_pages(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    assert (await client.post("/sandbox/_control", json={"volume": 250})).status_code == 200
    integration_id = await connect_and_enable(app, client, owner, "github")
    body = SyncRequest(
        sync_type=SyncType.import_, workspace_id=owner.workspace_id, source_entity="issues", target_entity="work_items"
    )
    reports = await _run_with_progress(app, owner, integration_id, body)
    # Known from the first page on (GitHub's Link header), and right: the bar ends full.
    pages = len(reports)
    assert pages >= 3
    assert [done for _, done, _ in reports] == list(range(1, pages + 1))
    assert [total for _, _, total in reports] == [pages] * pages
    assert reports[-1][0] > 0


async def test_export_reports_its_total_batches(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id = await connect_and_enable(app, client, owner, "github")
    for title in ("One", "Two"):
        body = {"workspaceId": owner.workspace_id, "title": title}
        assert (await client.post("/api/work-items", json=body, headers=owner.headers)).status_code == 201
    export = SyncRequest(
        sync_type=SyncType.export, workspace_id=owner.workspace_id, source_entity="work_items", target_entity="issues"
    )
    assert await _run_with_progress(app, owner, integration_id, export) == [(2, 1, 1)]


@pytest.fixture
def sandbox_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`platform-server serve --sandbox` on a port of its own, in a fresh directory, as a user starts it."""
    base = f"http://127.0.0.1:{free_port()}"
    env = {"PUBLIC_BASE_URL": base}
    clean = {k: v for k, v in os.environ.items() if k.upper() not in {"DATABASE_URL", "SECRET_KEY", "REDIS_URL"}}
    port = base.rsplit(":", 1)[1]
    command = [COMMAND, "serve", "--sandbox", "--port", port]
    server_env = {**clean, "PLATFORM_SANDBOX": "", **env, "RATE_LIMIT_ENABLED": "false"}
    with running_server(command, env=server_env, cwd=tmp_path, base_url=base, timeout=60):
        yield base, env


def _connect_github(base: str, key: str, workspace_id: str) -> str:
    """The README's steps over real HTTP: sign in to the settings page (the browser that finishes the
    authorization), create, approve on the sandbox's consent page, enable."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        integration_id = connect_over_http(http, key, "github")
        body = {"integrationId": integration_id, "defaultProject": "acme/product"}
        enabled = http.post(f"/api/workspaces/{workspace_id}/integrations", json=body, headers=headers)
        assert enabled.status_code == 201, enabled.text
    return integration_id


def _status(base: str, key: str, integration_id: str) -> str:
    response = httpx.get(f"{base}/api/integrations/{integration_id}", headers={"Authorization": f"Bearer {key}"})
    return str(response.json()["status"])


def test_sync_works_as_the_readme_says_and_names_what_is_missing(
    sandbox_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = sandbox_server
    bootstrapped = run(tmp_path, "bootstrap", "--team", "Acme", "--email", "ada@acme.dev", **env)
    assert bootstrapped.returncode == 0, bootstrapped.stderr
    account = json.loads(bootstrapped.stdout)
    key, workspace_id = account["api_key"], account["workspace_id"]
    integration_id = _connect_github(base, key, workspace_id)

    # Without --sandbox this shell would call the real GitHub with a sandbox grant: refused before any call.
    plain = run(tmp_path, "sync", integration_id, "--workspace", workspace_id, **env)
    assert plain.returncode == 2
    assert "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET not set: pass --sandbox" in plain.stderr
    assert _status(base, key, integration_id) == "connected"

    # The server's address is not the default one: without PUBLIC_BASE_URL the command says so.
    elsewhere = run(tmp_path, "sync", integration_id, "--workspace", workspace_id, "--sandbox")
    assert elsewhere.returncode == 2
    assert "No sandbox server answers at http://127.0.0.1:8000 (PUBLIC_BASE_URL)" in elsewhere.stderr

    # Another directory has neither the database file nor the development secret: both are named, none made.
    other = tmp_path / "elsewhere"
    other.mkdir()
    no_database = run(other, "sync", integration_id, "--workspace", workspace_id, "--sandbox", **env)
    assert no_database.returncode == 2
    assert "(DATABASE_URL=sqlite+aiosqlite:///./platform.db)" in no_database.stderr
    database = f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}"
    no_secret = run(
        other, "sync", integration_id, "--workspace", workspace_id, "--sandbox", DATABASE_URL=database, **env
    )
    assert no_secret.returncode == 2
    assert "SECRET_KEY is not set and .platform-secret (SECRET_KEY_FILE) is not here" in no_secret.stderr
    wrong_secret = run(
        other,
        "sync",
        integration_id,
        "--workspace",
        workspace_id,
        "--sandbox",
        DATABASE_URL=database,
        SECRET_KEY="not-the-servers-key",
        **env,
    )
    assert wrong_secret.returncode == 2
    assert "cannot be decrypted with this SECRET_KEY" in wrong_secret.stderr
    assert sorted(path.name for path in other.iterdir()) == []

    # With the server's flag and address, it runs and prints the API's answer.
    result = run(tmp_path, "sync", integration_id, "--workspace", workspace_id, "--sandbox", **env)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "completed"
    assert outcome["itemsSynced"] > 0
    listing = httpx.get(
        f"{base}/api/work-items", params={"workspace_id": workspace_id}, headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert listing["pagination"]["total"] == outcome["itemsSynced"]
