"""Fixtures: every database test runs against real SQLite and real PostgreSQL, schema made by migrations.

PostgreSQL tests need TEST_POSTGRES_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test), Redis tests
TEST_REDIS_URL. Without them those tests are skipped, except when PLATFORM_REQUIRE_SERVICES=1 (CI), where a
missing service fails the run instead.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from platform_server import migrate
from platform_server.app import create_app
from platform_server.config import Settings
from platform_server.db import Base
from platform_server.models import Team, User
from platform_server.teams.models import Role

TEST_SECRET_KEY = "test-secret-key-for-platform-tests-only-0123456789"
REQUIRE_SERVICES = os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1"


def require_service(env_var: str, what: str) -> str:
    value = os.environ.get(env_var)
    if value:
        return value
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (PLATFORM_REQUIRE_SERVICES=1) but {env_var} is not set")
    pytest.skip(f"{what} not configured: set {env_var}")


@dataclass(frozen=True)
class Database:
    backend: str
    url: str


async def _create_postgres_database(base_url: str) -> tuple[str, Callable[[], Coroutine[Any, Any, None]]]:
    # A database of our own per test session (and per xdist worker): parallel runs never share state.
    name = f"platform_test_{uuid.uuid4().hex[:12]}"
    admin_engine = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    async with admin_engine.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin_engine.dispose()

    async def drop() -> None:
        engine = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()

    return make_url(base_url).set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "platform.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(migrate.upgrade, url)
        yield Database("sqlite", url)
        return
    base_url = require_service("TEST_POSTGRES_URL", "PostgreSQL")
    url, drop = await _create_postgres_database(base_url)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        yield Database("postgres", url)
    finally:
        await drop()


@pytest.fixture(scope="session")
async def cleanup_engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database.url)
    yield engine
    await engine.dispose()


async def delete_all_rows(engine: AsyncEngine) -> None:
    """Empties every table, children first, keeping the schema the session migrated. DELETE, not TRUNCATE: a test
    leaves a few rows, which PostgreSQL deletes in milliseconds, where TRUNCATE (new files for every table) took
    most of a second after each test."""
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "PLATFORM_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": "http://testserver",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or with indirect parametrization) to change the app's settings."""
    return {}


@pytest.fixture
def settings(database: Database, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(database.url, **settings_overrides)


@pytest.fixture
async def app(settings: Settings, cleanup_engine: AsyncEngine) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
    await delete_all_rows(cleanup_engine)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


@dataclass
class Member:
    """A user of a team with a live API key, ready to make requests."""

    team_id: str
    user_id: str
    workspace_id: str
    api_key: str
    role: Role

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
def make_team(app: Any) -> Callable[..., Coroutine[Any, Any, Member]]:
    """Creates a team with an owner, a workspace and a key, through the same service the CLI uses."""
    from platform_server.teams.service import team_service

    async def factory(name: str = "Acme", plan: str = "free") -> Member:
        async with app.state.sessionmaker() as session, session.begin():
            team, user, workspace, _, secret = await team_service.bootstrap(
                session, team_name=name, email=f"owner-{uuid.uuid4().hex[:8]}@example.com", workspace_name="Main"
            )
            team.plan = plan
        return Member(team.id, user.id, workspace.id, secret, Role.owner)

    return factory


@pytest.fixture
def add_member(app: Any) -> Callable[..., Coroutine[Any, Any, Member]]:
    """Adds a user with the given role to an existing team, with their own API key."""
    from platform_server.auth.service import api_key_service

    async def factory(owner: Member, role: Role = Role.member) -> Member:
        async with app.state.sessionmaker() as session, session.begin():
            user = User(team_id=owner.team_id, email=f"{role}-{uuid.uuid4().hex[:8]}@example.com", name=role, role=role)
            session.add(user)
            await session.flush()
            _, secret = await api_key_service.create_for_user(
                session, team_id=owner.team_id, user_id=user.id, name="test"
            )
        return Member(owner.team_id, user.id, owner.workspace_id, secret, role)

    return factory


@pytest.fixture
async def owner(make_team: Callable[..., Coroutine[Any, Any, Member]]) -> Member:
    return await make_team()


@pytest.fixture
async def other_team(make_team: Callable[..., Coroutine[Any, Any, Member]]) -> Member:
    return await make_team("Globex")


async def row_count(app: Any, table: type[Any]) -> int:
    from sqlalchemy import func, select

    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def redis_url() -> str:
    return require_service("TEST_REDIS_URL", "Redis")


__all__ = ["Member", "Team", "make_settings", "row_count"]
