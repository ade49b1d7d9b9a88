"""SQLite on the event loop's own thread, behind SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call in a worker thread, and SQLAlchemy's adapter makes four calls per statement (cursor,
execute, fetch, close) plus one per commit and one per pool reset: six thread hops for a one-query request.
Each hop costs far more than the query itself (a 20-row page reads in ~30 µs; the hops cost ~400 µs, and under
load the worker also waits for the GIL), so this module gives the dialect a connection with aiosqlite's
interface that runs the same `sqlite3` calls inline, and skips commit and rollback when no transaction is open.

What the worker thread gave for free is handled here:

- Locks. A writer waiting inside SQLite's busy handler would block the loop, and with it the coroutine that
  holds the lock. So `busy_timeout` is 0, and writers of this process queue for the database on an asyncio
  lock (`_WriterGate`): the statement that opens a write transaction first takes the gate, and the transaction's
  end hands it to the next writer at once. Polling SQLite instead (try, sleep, try again) let a waiting writer
  sleep up to 50 ms past the holder's commit and spent a failed attempt on every try: with 32 concurrent
  webhook deliveries it cost more CPU than the deliveries themselves. A statement still refused as busy (a
  writer in another process) is retried after an asynchronous sleep, until `timeout` seconds have passed
  (then SQLite's "database is locked" error is raised as before). Only plain SQLITE_BUSY is retried: a stale
  snapshot (SQLITE_BUSY_SNAPSHOT) cannot succeed on retry.
- Long statements block the loop for their duration; the API's statements are single pages and keyed
  lookups, and bulk writes are batched by page (sync), so that is at most a few milliseconds.
"""

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Select, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.util import await_, greenlet_spawn

SQLITE_BUSY = 5
_FIRST_RETRY_SECONDS = 0.001
_MAX_RETRY_SECONDS = 0.05


# The statements before which `sqlite3` opens a transaction itself (its legacy transaction control, which the
# adapter uses): the first keyword, after leading whitespace.
_OPENS_WRITE_TRANSACTION = re.compile(r"\s*(?:insert|update|delete|replace)\b", re.IGNORECASE)


class _WriterGate:
    """One writing transaction at a time per database among this process's connections, first come first served.

    SQLite allows one writer anyway; queueing here hands the database over the moment the holder's transaction
    ends, where polling would find it on some later try. One lock per event loop: an asyncio lock belongs to one.
    """

    def __init__(self) -> None:
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = WeakKeyDictionary()

    async def enter(self, wait_seconds: float) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        if lock.locked():
            try:
                async with asyncio.timeout(wait_seconds):
                    await lock.acquire()
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
        else:
            await lock.acquire()
        return lock


class InlineCursor:
    """The slice of `aiosqlite.Cursor` that SQLAlchemy's adapter uses."""

    __slots__ = ("_connection", "_cursor", "_timeout")

    def __init__(self, connection: "InlineConnection", cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor
        self._timeout = connection.timeout

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
        await self._run(sql, partial(self._cursor.execute, sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> "InlineCursor":
        # A list, not an iterator: a retry must see every parameter set again.
        await self._run(sql, partial(self._cursor.executemany, sql, list(parameters)))
        return self

    async def _run(self, sql: str, operation: Callable[[], Any]) -> None:
        connection = self._connection
        await connection.before_statement(sql)
        try:
            await _when_not_busy(operation, self._timeout)
        finally:
            connection.release_gate_outside_transaction()

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
        return InlineCursor(self._connection, self._connection.sqlite.cursor())

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

    def __init__(self, connection: sqlite3.Connection, timeout: float, gate: _WriterGate | None = None) -> None:
        self._connection: sqlite3.Connection | None = connection
        self.timeout = timeout
        self._tx = _InlineQueue()
        self._gate = gate or _WriterGate()
        self._gate_held: asyncio.Lock | None = None

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
        self.release_gate_outside_transaction()

    async def rollback(self) -> None:
        if self.sqlite.in_transaction:
            self.sqlite.rollback()
        self.release_gate_outside_transaction()

    async def before_statement(self, sql: str) -> None:
        """Queues for the writer gate before a statement that will open a write transaction."""
        if self._gate_held is None and not self.sqlite.in_transaction and _OPENS_WRITE_TRANSACTION.match(sql):
            self._gate_held = await self._gate.enter(self.timeout)

    def release_gate_outside_transaction(self) -> None:
        """Hands the gate on once no transaction is open (ended, or never opened by a failed statement)."""
        if self._gate_held is not None and (self._connection is None or not self._connection.in_transaction):
            gate, self._gate_held = self._gate_held, None
            gate.release()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.sqlite.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.release_gate_outside_transaction()


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

    gate = _WriterGate()

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(database, timeout=0, check_same_thread=False, uri=database.startswith("file:"))
        return InlineConnection(connection, timeout, gate)

    return connect


StatementT = TypeVar("StatementT", Select[Any], UpdateBase)


class PreparedStatement(Generic[StatementT]):
    """A Core statement (a select, or an insert, update or delete) whose rows (a write's RETURNING) come back as
    dicts by column name, run on a session's connection, in its transaction.

    On SQLite the statement is compiled once, run straight on the connection's `sqlite3` cursor (a write first
    queues for the writer gate, as the adapter's statements do) and each value passed through its column type's
    own bind and result processors (UTC datetimes, JSON): the same rows as `connection.execute(...).mappings()`,
    without SQLAlchemy's per-execution work (context, cursor wrapper, result metadata), which costs several
    times the statement itself: a page of 20 rows, a webhook's event insert. Other databases run it through
    `connection.execute`.
    """

    def __init__(self, statement: StatementT) -> None:
        self.statement: StatementT = statement
        self._sqlite: _CompiledForSqlite | None = None

    async def rows(self, connection: AsyncConnection, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        if connection.dialect.name != "sqlite":
            return await self._executed(connection, values)
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if not isinstance(driver, InlineConnection):
            # An engine not made by `inline_connector` (aiosqlite's own): the ordinary path.
            return await self._executed(connection, values)
        return await self._inline(driver, connection.dialect, values)

    async def read(self, session: AsyncSession, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows of a select run for `session`, which need not have begun its transaction.

        A session that has begun one reads on its connection, where its own writes are. One that has not, on
        SQLite, reads on a connection of its engine's pool, checked out and back in within one step: the
        session still holds no connection afterwards, so the request skips its transaction (the connection's
        checkout, the commit, the return to the pool: SQLAlchemy's work around a page read cost more than the
        page). The rows are the same: the SQLite driver begins a transaction before a write only, so a select
        on the session's own connection would not have run in one either.
        """
        bind = session.bind
        if (
            not session.in_transaction()
            and isinstance(bind, AsyncEngine)
            and bind.dialect.name == "sqlite"
            # A pool of connections of their own (a file's): a static pool (":memory:") hands every session the
            # same connection, whose return to the pool would roll back another session's transaction.
            and isinstance(bind.sync_engine.pool, QueuePool)
        ):
            rows = await greenlet_spawn(self._read_pooled, bind.sync_engine, values)
            if rows is not None:
                return rows
        return await self.rows(await session.connection(), values)

    def _read_pooled(self, engine: Engine, values: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """Run in SQLAlchemy's greenlet: the pool's checkout may connect and its check-in rolls back, both async.
        None for a pool whose connections are not inline ones."""
        connection = engine.raw_connection()
        try:
            driver = connection.driver_connection
            if not isinstance(driver, InlineConnection):
                return None
            return await_(self._inline(driver, engine.dialect, values))
        finally:
            connection.close()

    async def _inline(
        self, driver: InlineConnection, dialect: Dialect, values: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        compiled = self._sqlite or self._compile(dialect)
        parameters = [
            value if process is None else process(value)
            for value, process in zip(
                (values[name] if name is not None else fixed for name, fixed in compiled.parameters),
                compiled.bind_processors,
                strict=True,
            )
        ]
        cursor = InlineCursor(driver, driver.sqlite.cursor())
        try:
            await cursor.execute(compiled.sql, parameters)
            fetched = await cursor.fetchall()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(compiled.sql, parameters, exc, sqlite3.Error, hide_parameters=True) from exc
        finally:
            await cursor.close()
        names, processors = compiled.names, compiled.processors
        if not processors or not fetched:
            return [dict(zip(names, row, strict=True)) for row in fetched]
        # Processed column by column, one `map` each, then one dict per row: a fifth cheaper than row by row
        # (a page of 20 features processes 80 dates).
        columns = list(zip(*fetched, strict=True))
        for index, process in processors:
            columns[index] = tuple(map(process, columns[index]))
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]

    async def _executed(self, connection: AsyncConnection, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        result = await connection.execute(self.statement, dict(values))
        return [dict(row) for row in result.mappings()] if result.returns_rows else []

    def _compile(self, dialect: Dialect) -> "_CompiledForSqlite":
        compiled = self.statement.compile(dialect=dialect)
        columns = list(self.statement.exported_columns.items())
        processors = []
        for index, (_, column) in enumerate(columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                processors.append((index, process))
        binds = [(name, compiled.binds[name]) for name in compiled.positiontup or ()]
        self._sqlite = _CompiledForSqlite(
            sql=str(compiled),
            # A `bindparam` without a value is the caller's to give; a literal of the statement is bound as is.
            parameters=tuple((name, None) if bind.required else (None, bind.effective_value) for name, bind in binds),
            bind_processors=tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for _, bind in binds),
            names=tuple(str(name) for name, _ in columns),
            processors=tuple(processors),
        )
        return self._sqlite


@dataclass(frozen=True, slots=True)
class _CompiledForSqlite:
    sql: str
    # (name of a value the caller gives, or None and the value fixed in the statement), in placeholder order.
    parameters: tuple[tuple[str | None, Any], ...]
    bind_processors: tuple[Callable[[Any], Any] | None, ...]
    names: tuple[str, ...]
    # (position in the row, the column type's result processor)
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]


_ON_COMMIT = "prepared_transaction_on_commit"


class PreparedTransaction:
    """One transaction in which `PreparedStatement`s run, for work that needs nothing of the ORM (a webhook's
    event: a few keyed reads and writes).

    `begin(engine)` opens one of its own. On SQLite it runs on a connection of the engine's pool, checked out
    once: every statement goes straight to the `sqlite3` cursor (a write queues for the writer gate, which the
    commit hands on), and the commit is the driver's. An `AsyncSession` around the same statements, asked for
    its connection and that connection's driver before each of them, cost several times the statements of an
    event. Other databases (and SQLite's static pool, one connection shared by every session) use
    `engine.begin()`. `of_session(session)` runs in a session's transaction instead, which its owner ends.

    `connection` is None only on SQLite's pooled path: statements that are not prepared run on other databases.
    """

    __slots__ = ("_after_commit", "_driver", "_session", "connection", "dialect")

    def __init__(
        self,
        dialect: Dialect,
        connection: AsyncConnection | None,
        driver: InlineConnection | None,
        session: AsyncSession | None = None,
    ) -> None:
        self.dialect = dialect
        self.connection = connection
        self._driver = driver
        self._session = session
        self._after_commit: list[Callable[[], None]] = []

    @classmethod
    async def of_session(cls, session: AsyncSession) -> "PreparedTransaction":
        return await cls._on(await session.connection(), session)

    @classmethod
    @asynccontextmanager
    async def begin(cls, engine: AsyncEngine) -> AsyncIterator["PreparedTransaction"]:
        """Commits when the block ends, rolls back when it raises; `on_commit` callbacks run after the commit."""
        sync_engine = engine.sync_engine
        if engine.dialect.name == "sqlite" and isinstance(sync_engine.pool, QueuePool):
            pooled = await greenlet_spawn(sync_engine.raw_connection)
            try:
                driver = pooled.driver_connection
                if isinstance(driver, InlineConnection):
                    transaction = cls(engine.dialect, None, driver)
                    yield transaction
                    await driver.commit()
            finally:
                # Back to the pool, whose reset rolls back what the block (when it raised) or a failed commit left.
                await greenlet_spawn(pooled.close)
            if isinstance(driver, InlineConnection):
                transaction._committed()
                return
        async with engine.begin() as connection:
            transaction = await cls._on(connection, None)
            yield transaction
        transaction._committed()

    @classmethod
    async def _on(cls, connection: AsyncConnection, session: AsyncSession | None) -> "PreparedTransaction":
        driver = None
        if connection.dialect.name == "sqlite":
            found = (await connection.get_raw_connection()).driver_connection
            driver = found if isinstance(found, InlineConnection) else None
        return cls(connection.dialect, connection, driver, session)

    async def rows(self, statement: PreparedStatement[Any], values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`statement.rows` in this transaction."""
        if self._driver is not None:
            return await statement._inline(self._driver, self.dialect, values)
        assert self.connection is not None
        return await statement._executed(self.connection, values)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Calls `callback` once this transaction has committed; not at all if it rolls back."""
        if self._session is None:
            self._after_commit.append(callback)
        else:
            self._session.sync_session.info.setdefault(_ON_COMMIT, []).append(callback)

    def _committed(self) -> None:
        for callback in self._after_commit:
            callback()


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for callback in session.info.pop(_ON_COMMIT, ()):
        callback()


@event.listens_for(Session, "after_rollback")
def _forget_on_commit(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)
