"""SQLite on the event loop's own thread, behind SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call in a worker thread, and SQLAlchemy's adapter makes four calls per statement (cursor,
execute, fetch, close) plus one per commit and one per pool reset: six thread hops for a one-query request.
Each hop costs far more than the query itself (a 20-row page reads in ~30 µs; the hops cost ~400 µs, and under
load the worker also waits for the GIL), so this module gives the dialect a connection with aiosqlite's
interface that runs the same `sqlite3` calls inline, and skips commit and rollback when no transaction is open.

What the worker thread gave for free is handled here:

- Locks. A writer waiting inside SQLite's busy handler would block the loop, and with it the coroutine that
  holds the lock. So `busy_timeout` is 0 and a busy statement is retried after an asynchronous sleep, until
  `timeout` seconds have passed (then SQLite's "database is locked" error is raised as before). Only plain
  SQLITE_BUSY is retried: a stale snapshot (SQLITE_BUSY_SNAPSHOT) cannot succeed on retry.
- Long statements block the loop for their duration; the API's statements are single pages and keyed
  lookups, and bulk writes are batched by page (sync), so that is at most a few milliseconds.
"""

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

SQLITE_BUSY = 5
_FIRST_RETRY_SECONDS = 0.001
_MAX_RETRY_SECONDS = 0.05


class InlineCursor:
    """The slice of `aiosqlite.Cursor` that SQLAlchemy's adapter uses."""

    __slots__ = ("_cursor", "_timeout")

    def __init__(self, cursor: sqlite3.Cursor, timeout: float) -> None:
        self._cursor = cursor
        self._timeout = timeout

    async def __aenter__(self) -> "InlineCursor":
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> "InlineCursor":
        await _when_not_busy(partial(self._cursor.execute, sql, parameters), self._timeout)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> "InlineCursor":
        # A list, not an iterator: a retry must see every parameter set again.
        await _when_not_busy(partial(self._cursor.executemany, sql, list(parameters)), self._timeout)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _CursorContext:
    """`connection.cursor()` is both awaited and entered by the adapter, as with aiosqlite."""

    __slots__ = ("_connection",)

    def __init__(self, connection: "InlineConnection") -> None:
        self._connection = connection

    def __await__(self) -> Any:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> InlineCursor:
        return InlineCursor(self._connection.sqlite.cursor(), self._connection.timeout)

    async def __aexit__(self, *_: object) -> None:
        return None


class _InlineQueue:
    """aiosqlite's request queue, which the adapter's isolation-level setter uses directly: run at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineConnection:
    """The slice of `aiosqlite.Connection` that SQLAlchemy's adapter uses, run on the calling thread."""

    def __init__(self, connection: sqlite3.Connection, timeout: float) -> None:
        self._connection: sqlite3.Connection | None = connection
        self.timeout = timeout
        self._tx = _InlineQueue()

    @property
    def sqlite(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    # The adapter reaches for aiosqlite's private name of the same thing.
    _conn = sqlite

    @property
    def isolation_level(self) -> str | None:
        return self.sqlite.isolation_level

    def cursor(self) -> _CursorContext:
        return _CursorContext(self)

    async def commit(self) -> None:
        # Nothing to end: a read-only request costs no COMMIT.
        if self.sqlite.in_transaction:
            await _when_not_busy(self.sqlite.commit, self.timeout)

    async def rollback(self) -> None:
        if self.sqlite.in_transaction:
            self.sqlite.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.sqlite.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def _when_not_busy(operation: Callable[[], Any], lock_wait_seconds: float) -> Any:
    deadline = time.monotonic() + lock_wait_seconds
    delay = _FIRST_RETRY_SECONDS
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_RETRY_SECONDS)


def inline_connector(database: str, timeout: float) -> Callable[[], Awaitable[InlineConnection]]:
    """An `async_creator` for `create_async_engine`: opens `database` with SQLite's own busy wait off."""

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(database, timeout=0, check_same_thread=False, uri=database.startswith("file:"))
        return InlineConnection(connection, timeout)

    return connect


class PreparedSelect:
    """A Core select whose rows come back as dicts by column name, run on a session's connection.

    On SQLite the statement is compiled once, run straight on the connection's `sqlite3` cursor and each value
    passed through its column type's own result processor (UTC datetimes, JSON): the same rows as
    `connection.execute(...).mappings()`, without SQLAlchemy's per-execution work (context, cursor wrapper,
    result metadata), which costs several times the query itself for a page of 20 rows. Other databases run
    it through `connection.execute`.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._sqlite: _CompiledForSqlite | None = None

    async def rows(self, connection: AsyncConnection, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        if connection.dialect.name != "sqlite":
            result = await connection.execute(self.statement, dict(values))
            return [dict(row) for row in result.mappings()]
        compiled = self._sqlite or self._compile(connection.dialect)
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if not isinstance(driver, InlineConnection):
            # An engine not made by `inline_connector` (aiosqlite's own): the ordinary path.
            result = await connection.execute(self.statement, dict(values))
            return [dict(row) for row in result.mappings()]
        parameters = [
            value if process is None else process(value)
            for value, process in zip(
                (values[name] for name in compiled.parameter_names), compiled.bind_processors, strict=True
            )
        ]
        cursor = driver.sqlite.cursor()
        try:
            await _when_not_busy(partial(cursor.execute, compiled.sql, parameters), driver.timeout)
            fetched = cursor.fetchall()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(compiled.sql, parameters, exc, sqlite3.Error, hide_parameters=True) from exc
        finally:
            cursor.close()
        names, processors = compiled.names, compiled.processors
        if not processors:
            return [dict(zip(names, row, strict=True)) for row in fetched]
        rows = []
        for row in fetched:
            record = dict(zip(names, row, strict=True))
            for name, process in processors:
                record[name] = process(record[name])
            rows.append(record)
        return rows

    def _compile(self, dialect: Dialect) -> "_CompiledForSqlite":
        compiled = self.statement.compile(dialect=dialect)
        columns = list(self.statement.selected_columns.items())
        processors = []
        for name, column in columns:
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                processors.append((name, process))
        parameter_names = tuple(compiled.positiontup or ())
        self._sqlite = _CompiledForSqlite(
            sql=str(compiled),
            parameter_names=parameter_names,
            bind_processors=tuple(
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in parameter_names
            ),
            names=tuple(name for name, _ in columns),
            processors=tuple(processors),
        )
        return self._sqlite


@dataclass(frozen=True, slots=True)
class _CompiledForSqlite:
    sql: str
    parameter_names: tuple[str, ...]
    bind_processors: tuple[Callable[[Any], Any] | None, ...]
    names: tuple[str, ...]
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
