"""The `platform-server` command, run as a user runs it: a subprocess against a fresh database."""

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, update
from sqlalchemy.ext.asyncio import create_async_engine

from platform_server.app import create_app
from platform_server.auth.models import ApiKey
from platform_server.cli import public_address_warning
from platform_server.config import Settings
from platform_server.db import utcnow
from tests.conftest import _create_postgres_database, make_settings, require_service

EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - an argument to the warning, never bound
COMMAND = str(Path(sys.executable).parent / "platform-server")
FOUNDATION_TABLES = {"teams", "users", "api_keys", "workspaces", "features", "work_items", "alembic_version"}


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k.upper() not in Settings.model_fields}
    return subprocess.run(
        [COMMAND, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
        return
    url, drop = await _create_postgres_database(require_service("TEST_POSTGRES_URL", "PostgreSQL"))
    try:
        yield url
    finally:
        await drop()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            names: list[str] = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def test_migrate_then_bootstrap_on_a_fresh_database(fresh_database: str, tmp_path: Path) -> None:
    assert await _tables(fresh_database) == set()
    first = run(tmp_path, "migrate", DATABASE_URL=fresh_database)
    assert first.returncode == 0, first.stderr
    tables = await _tables(fresh_database)
    assert tables >= FOUNDATION_TABLES
    second = run(tmp_path, "migrate", DATABASE_URL=fresh_database)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stderr
    assert await _tables(fresh_database) == tables

    result = run(
        tmp_path,
        "bootstrap",
        "--team",
        "Acme",
        "--email",
        "Ada@Acme.dev",
        "--workspace",
        "Product",
        DATABASE_URL=fresh_database,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert result.stdout.strip().count("\n") == 0
    assert set(output) == {"team_id", "user_id", "workspace_id", "api_key"}
    assert output["api_key"].startswith("plat_")
    assert output["api_key"] not in result.stderr

    app = create_app(make_settings(fresh_database))
    headers = {"Authorization": f"Bearer {output['api_key']}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        me = (await http.get("/api/me", headers=headers)).json()
        workspaces = (await http.get("/api/workspaces", headers=headers)).json()
    assert me["user"] | {"createdAt": None} == {
        "id": output["user_id"],
        "email": "ada@acme.dev",
        "name": "ada",
        "role": "owner",
        "createdAt": None,
    }
    assert me["team"]["id"] == output["team_id"]
    assert me["team"]["name"] == "Acme"
    assert [(w["id"], w["name"]) for w in workspaces["data"]] == [(output["workspace_id"], "Product")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--team", "Acme", "--email", "not-an-email"), "Not an email address"),
        (("--team", "Acme", "--email", "a@x.dev", "--workspace", "w" * 201), "--workspace must be 1 to 200"),
    ],
)
def test_bootstrap_refuses_bad_input(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/refused.db"
    result = run(tmp_path, "bootstrap", *args, DATABASE_URL=url)
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "refused.db").exists()


def test_bootstrap_requires_its_options(tmp_path: Path) -> None:
    result = run(tmp_path, "bootstrap", "--team", "Acme", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    assert "--email" in result.stderr


def test_openapi_prints_a_valid_document_and_reuses_the_development_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / ".platform-secret"
    result = run(tmp_path, "openapi", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Platform API"
    operations = [op for item in document["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(operations) > 15
    assert all(op.get("operationId") for op in operations)
    assert {"getMe", "listFeatures", "createWorkItem", "revokeApiKey", "getHealth"} <= {
        op["operationId"] for op in operations
    }
    # Development mode generated a secret once, kept it private, and the next start reuses it.
    first = secret_file.read_text()
    assert len(first.strip()) >= 48
    assert secret_file.stat().st_mode & 0o777 == 0o600
    again = run(tmp_path, "openapi", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    assert again.returncode == 0, again.stderr
    assert again.stdout == result.stdout
    assert secret_file.read_text() == first


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_production_without_a_secret_key_refuses_to_start(tmp_path: Path, command: str) -> None:
    result = run(tmp_path, command, PLATFORM_ENV="production", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/p.db")
    assert result.returncode == 2
    assert "SECRET_KEY must be set when PLATFORM_ENV=production" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".platform-secret").exists()
    assert not (tmp_path / "p.db").exists()


async def _revoke_every_key(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(ApiKey).values(revoked_at=utcnow()))
    finally:
        await engine.dispose()


async def _status(url: str, key: str) -> tuple[int, dict[str, Any]]:
    app = create_app(make_settings(url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        response = await http.get("/api/me", headers={"Authorization": f"Bearer {key}"})
    return response.status_code, response.json()


async def test_issue_key_lets_a_locked_out_owner_back_in(fresh_database: str, tmp_path: Path) -> None:
    first = json.loads(
        run(tmp_path, "bootstrap", "--team", "Acme", "--email", "ada@acme.dev", DATABASE_URL=fresh_database).stdout
    )
    await _revoke_every_key(fresh_database)
    assert (await _status(fresh_database, first["api_key"]))[0] == 401

    result = run(tmp_path, "issue-key", "--email", "Ada@Acme.dev", "--name", "laptop", DATABASE_URL=fresh_database)
    assert result.returncode == 0, result.stderr
    issued = json.loads(result.stdout)
    assert set(issued) == {"team_id", "user_id", "role", "api_key_id", "api_key"}
    assert (issued["team_id"], issued["user_id"], issued["role"]) == (first["team_id"], first["user_id"], "owner")
    assert issued["api_key"] not in result.stderr
    status, me = await _status(fresh_database, issued["api_key"])
    assert (status, me["user"]["id"]) == (200, first["user_id"])

    # The same address in a second team: the command asks which team, and takes --team.
    second = json.loads(
        run(tmp_path, "bootstrap", "--team", "Globex", "--email", "ada@acme.dev", DATABASE_URL=fresh_database).stdout
    )
    ambiguous = run(tmp_path, "issue-key", "--email", "ada@acme.dev", DATABASE_URL=fresh_database)
    assert ambiguous.returncode == 1
    assert "--team" in ambiguous.stderr
    assert first["team_id"] in ambiguous.stderr
    assert second["team_id"] in ambiguous.stderr
    assert ambiguous.stdout == ""
    chosen = run(
        tmp_path, "issue-key", "--email", "ada@acme.dev", "--team", second["team_id"], DATABASE_URL=fresh_database
    )
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["user_id"] == second["user_id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--email", "nobody@acme.dev"), "No user has the email nobody@acme.dev"),
        (("--email", "not-an-email"), "Not an email address"),
        (("--email", "ada@acme.dev", "--name", ""), "--name must be 1 to 200 characters"),
    ],
)
def test_issue_key_refuses_what_it_cannot_do(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/keys.db"
    assert run(tmp_path, "bootstrap", "--team", "Acme", "--email", "ada@acme.dev", DATABASE_URL=url).returncode == 0
    result = run(tmp_path, "issue-key", *args, DATABASE_URL=url)
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_serve_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--workers", "2", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/w.db")
    assert result.returncode == 2
    assert "--workers 2 needs REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w.db").exists()


def test_serve_warns_when_the_public_address_is_another_port(tmp_path: Path) -> None:
    # --workers 2 without Redis stops it right after the warning, before it would serve.
    result = run(
        tmp_path, "serve", "--port", "8765", "--workers", "2", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/w.db"
    )
    assert "PUBLIC_BASE_URL is http://127.0.0.1:8000, but this server listens on 127.0.0.1:8765" in result.stderr
    assert "Set PUBLIC_BASE_URL=http://127.0.0.1:8765" in result.stderr
    quiet = run(
        tmp_path,
        "serve",
        "--port",
        "8765",
        "--workers",
        "2",
        PUBLIC_BASE_URL="http://127.0.0.1:8765",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/w.db",
    )
    assert "Warning" not in quiet.stderr


@pytest.mark.parametrize(
    ("public", "host", "port", "suggested"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1", 8000, None),
        ("http://localhost:8000", "127.0.0.1", 8000, None),
        ("http://127.0.0.1:8000", EVERY_INTERFACE, 8000, None),
        ("https://platform.acme.dev", EVERY_INTERFACE, 8000, None),  # behind a proxy: its business
        ("http://127.0.0.1:8000", "127.0.0.1", 8765, "http://127.0.0.1:8765"),
        ("http://localhost:8000", EVERY_INTERFACE, 9000, "http://localhost:9000"),
        ("http://127.0.0.1", "127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000", "10.1.2.3", 8000, "http://10.1.2.3:8000"),
        ("http://10.1.2.3:9000", "10.1.2.3", 8000, "http://10.1.2.3:8000"),
    ],
)
def test_public_address_warning(public: str, host: str, port: int, suggested: str | None) -> None:
    warning = public_address_warning(public, host, port)
    if suggested is None:
        assert warning is None
    else:
        assert warning is not None
        assert f"Set PUBLIC_BASE_URL={suggested} " in warning
