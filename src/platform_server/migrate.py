"""Alembic, driven from code: migrations are the only way the schema is made, in tests too."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a percent-encoded password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Synchronous (Alembic drives its own event loop); from async code, call it in a worker thread."""
    command.upgrade(alembic_config(database_url), revision)


def pending_revisions(connection: Connection) -> set[str]:
    script = ScriptDirectory.from_config(alembic_config(str(connection.engine.url)))
    current = set(MigrationContext.configure(connection).get_current_heads())
    return set(script.get_heads()) - current
