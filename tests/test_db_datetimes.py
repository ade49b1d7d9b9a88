"""`UTCDateTime` reads back aware UTC datetimes on both backends, whatever form the stored value has."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from platform_server.db import UTCDateTime, create_engine
from tests.conftest import Database, make_settings

_metadata = MetaData()
_moments = Table("test_utc_moments", _metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime))

WRITTEN = [
    datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 1, 2, 5, 4, 5, 1, tzinfo=timezone(timedelta(hours=2))),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    None,
]


async def _engine_with_table(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(make_settings(url))
    async with engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
    try:
        yield engine
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(_metadata.drop_all)
        await engine.dispose()


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    async for engine in _engine_with_table(database.url):
        yield engine


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """SQLite alone: only it stores datetimes as text, in whatever form another writer chose."""
    async for engine in _engine_with_table(f"sqlite+aiosqlite:///{tmp_path / 'moments.db'}"):
        yield engine


async def _read(engine: AsyncEngine) -> list[datetime | None]:
    async with engine.connect() as connection:
        return list((await connection.scalars(select(_moments.c.at).order_by(_moments.c.id))).all())


async def test_written_datetimes_read_back_as_the_same_instants_in_utc(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(_moments), [{"id": number, "at": at} for number, at in enumerate(WRITTEN)])
    read = await _read(engine)
    assert read == WRITTEN
    assert all(at is None or at.tzinfo is UTC for at in read)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-01-02 03:04:05.678901", datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)),
        ("2026-01-02 03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02 03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02", datetime(2026, 1, 2, tzinfo=UTC)),
    ],
)
async def test_sqlite_text_in_any_iso_form_reads_as_utc(
    sqlite_engine: AsyncEngine, stored: str, expected: datetime
) -> None:
    async with sqlite_engine.begin() as connection:
        await connection.execute(text("INSERT INTO test_utc_moments (id, at) VALUES (1, :at)"), {"at": stored})
    [read] = await _read(sqlite_engine)
    assert read == expected
    assert read is not None
    assert read.tzinfo is UTC
