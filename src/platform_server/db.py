"""Database engine, declarative base and the per-request unit of work."""

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from anyio import CancelScope
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, String, TypeDecorator, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DataError, DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from platform_server.config import Settings
from platform_server.ids import new_id
from platform_server.log import get_logger
from platform_server.routing import ends_under_its_own_shield
from platform_server.sqlite_inline import inline_connector

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        # SQLite returns the stored text: read it as UTC in one step. Parsing it naive and then setting the zone
        # (SQLAlchemy's processor, then ours) costs three to five times as much, and a page of 20 items reads 40.
        if dialect.name == "sqlite":
            return _utc_from_sqlite_text
        return super().result_processor(dialect, coltype)


def _as_utc(value: datetime) -> datetime:
    # asyncpg's timestamptz values are already UTC.
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_from_sqlite_text(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        # What this column writes on SQLite: naive UTC text, e.g. "2026-01-02 03:04:05.678901".
        parsed = datetime.fromisoformat(value + "+00:00")
    except ValueError:
        # Text that carries an offset of its own.
        parsed = datetime.fromisoformat(value)
    # The usual case, without a call: the suffix gives the UTC singleton. A bare date takes the suffix as its
    # time and stays naive.
    return parsed if parsed.tzinfo is UTC else _as_utc(parsed)


logger = get_logger(__name__)

IdColumn = String(20)
# How long a writer waits for another to finish before "database is locked".
SQLITE_LOCK_TIMEOUT_SECONDS = 30.0


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class IdMixin:
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    # orjson: JSON columns (webhook payloads, tool schemas) cost a fraction of the standard library's encoder.
    options: dict[str, Any] = {
        "pool_pre_ping": False,
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
        # A database error's message would otherwise carry the statement's parameters (payloads, tokens) into
        # the log.
        "hide_parameters": True,
    }
    if settings.is_sqlite:
        database = make_url(settings.DATABASE_URL).database or ":memory:"
        options["async_creator"] = inline_connector(database, timeout=SQLITE_LOCK_TIMEOUT_SECONDS)
    else:
        options.update(pool_size=settings.DATABASE_POOL_SIZE, max_overflow=settings.DATABASE_POOL_SIZE)
    options.update(overrides)
    engine = create_async_engine(settings.DATABASE_URL, **options)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    return engine


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed during a write; concurrent writers wait in sqlite_inline, off the event loop.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def refused_for_its_values(exc: BaseException) -> bool:
    """Whether a statement failed for the values it carried (too long for the column, text the encoding cannot
    hold), so that running it again can never succeed; connection, lock and timeout failures are not."""
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, DBAPIError):
        # asyncpg's data errors arrive as the generic DBAPIError; SQLSTATE class 22 is "data exception".
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return isinstance(sqlstate, str) and sqlstate.startswith("22")
    # Raised before the statement reached the database: a bind processor (orjson) or the driver (sqlite3)
    # could not encode a value.
    return isinstance(exc, (StatementError, UnicodeError))


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@ends_under_its_own_shield
async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit when the handler succeeds, roll back when it raises.

    A session that never began a transaction holds no connection, so it has nothing to end and nothing to
    close: most requests that answer from caches (and every refused one) skip the end altogether. One that did
    is ended by `_end_to_the_last`, which a cancelled request cannot stop halfway.
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    session = sessionmaker()
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            await _end_to_the_last(_end(session, commit=False))
        raise
    if session.in_transaction():
        await _end_to_the_last(_end(session, commit=True))


async def _end(session: AsyncSession, commit: bool) -> None:
    try:
        if commit:
            await session.commit()
        else:
            await session.rollback()
    finally:
        # Only a failed commit leaves a transaction (and its connection) behind.
        if session.in_transaction():
            await session.close()


async def _end_to_the_last(ending: Coroutine[Any, Any, None]) -> None:
    """Runs `ending` to its end even when the request is cancelled meanwhile, then raises the cancellation.

    A commit cut at one of its awaits (a statement of its flush waiting for a lock, the COMMIT's answer) is
    rolled back, losing the writes of a handler that succeeded, or leaves unknown whether they were committed.
    In a task of its own it runs to the end whatever happens to the request's task: a task's cancellation
    (`task.cancel()`: a server's shutdown, a timeout), which FastAPI's AnyIO shield does not stop, reaches only
    the wait; AnyIO's shield keeps a cancelled scope from raising again at every turn of that wait.
    """
    task = asyncio.ensure_future(ending)
    cancelled: asyncio.CancelledError | None = None
    with CancelScope(shield=True):
        while not task.done():
            try:
                await asyncio.wait((task,))
            except asyncio.CancelledError as exc:
                cancelled = exc
    if cancelled is not None:
        if not task.cancelled() and task.exception() is not None:
            # The cancellation is what the caller sees; the end's own failure is not lost.
            logger.error("session_end_failed", exc_info=task.exception())
        raise cancelled
    task.result()


# "function" scope commits before the response is sent, so a failed commit can never follow a 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
