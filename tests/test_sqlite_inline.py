"""SQLite on the event loop: a writer that finds the database locked waits without blocking the loop."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from platform_server.sqlite_inline import inline_connector


def _engine(path: Path, lock_wait_seconds: float) -> AsyncEngine:
    return create_async_engine(
        f"sqlite+aiosqlite:///{path}", async_creator=inline_connector(str(path), lock_wait_seconds)
    )


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = _engine(tmp_path / "inline.db", lock_wait_seconds=5)
    async with engine.begin() as connection:
        await connection.execute(text("PRAGMA journal_mode=WAL"))
        await connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
    yield engine
    await engine.dispose()


async def test_a_second_writer_waits_for_the_first_while_the_loop_runs(engine: AsyncEngine) -> None:
    order: list[str] = []
    first_holds_lock = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO items (name) VALUES ('first')"))
            first_holds_lock.set()
            # The loop must keep running while the second writer waits, or this sleep would never end.
            await asyncio.sleep(0.2)
            order.append("first commits")

    async def second() -> None:
        await first_holds_lock.wait()
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO items (name) VALUES ('second')"))
        order.append("second commits")

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=5)

    assert order == ["first commits", "second commits"]
    async with engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM items ORDER BY id"))).scalars().all()
    assert names == ["first", "second"]


async def test_a_writer_gives_up_with_database_is_locked_after_the_wait(tmp_path: Path, engine: AsyncEngine) -> None:
    impatient = _engine(tmp_path / "inline.db", lock_wait_seconds=0.1)
    try:
        async with engine.begin() as holder:
            await holder.execute(text("INSERT INTO items (name) VALUES ('holder')"))
            with pytest.raises(OperationalError, match="database is locked"):
                async with impatient.begin() as connection:
                    await connection.execute(text("INSERT INTO items (name) VALUES ('impatient')"))
    finally:
        await impatient.dispose()


async def test_reads_are_not_blocked_by_an_open_write(engine: AsyncEngine) -> None:
    async with engine.begin() as writer:
        await writer.execute(text("INSERT INTO items (name) VALUES ('uncommitted')"))
        async with engine.connect() as reader:
            count = (await reader.execute(text("SELECT count(*) FROM items"))).scalar_one()
    assert count == 0


async def test_writers_of_one_engine_take_the_database_in_the_order_they_asked(engine: AsyncEngine) -> None:
    committed: list[int] = []

    async def writer(number: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO items (name) VALUES (:name)"), {"name": str(number)})
            # Work inside the transaction that lets every other writer ask meanwhile (an HTTP call, say).
            await asyncio.sleep(0.01)
            committed.append(number)

    async def started_in_order() -> None:
        tasks = []
        for number in range(10):
            tasks.append(asyncio.create_task(writer(number)))
            await asyncio.sleep(0.001)
        await asyncio.gather(*tasks)

    await asyncio.wait_for(started_in_order(), timeout=10)

    assert committed == list(range(10))
    async with engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM items ORDER BY id"))).scalars().all()
    assert names == [str(number) for number in range(10)]


async def test_a_writer_of_the_same_engine_gives_up_after_the_wait(tmp_path: Path) -> None:
    impatient = _engine(tmp_path / "impatient.db", lock_wait_seconds=0.1)
    try:
        async with impatient.begin() as connection:
            await connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
        async with impatient.begin() as holder:
            await holder.execute(text("INSERT INTO items (name) VALUES ('holder')"))
            with pytest.raises(OperationalError, match="database is locked"):
                async with impatient.begin() as connection:
                    await connection.execute(text("INSERT INTO items (name) VALUES ('impatient')"))
        # The holder committed; the refused writer left nothing behind and the next one goes ahead.
        async with impatient.begin() as connection:
            await connection.execute(text("INSERT INTO items (name) VALUES ('next')"))
        async with impatient.connect() as connection:
            names = (await connection.execute(text("SELECT name FROM items ORDER BY id"))).scalars().all()
        assert names == ["holder", "next"]
    finally:
        await impatient.dispose()


async def test_a_write_that_fails_before_its_transaction_opens_lets_the_next_writer_in(engine: AsyncEngine) -> None:
    async with engine.connect() as failed:
        with pytest.raises(OperationalError, match="no such table"):
            await failed.execute(text("INSERT INTO missing (name) VALUES ('x')"))
        # This connection is still checked out; had it kept its place as writer, the next would wait for it.
        async with engine.begin() as connection:
            await asyncio.wait_for(connection.execute(text("INSERT INTO items (name) VALUES ('next')")), timeout=2)
