"""`PreparedStatement`: the rows SQLAlchemy's own execution gives, on SQLite (inline) and PostgreSQL alike, in the
session's transaction or (a read on SQLite before it has begun one) on a pool connection of its own."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, bindparam, func, select, update

from platform_server.db import create_engine, create_sessionmaker
from platform_server.sqlite_inline import PreparedStatement
from platform_server.work_items.models import WorkItem
from tests.conftest import Member, make_settings

_items = WorkItem.__table__
# Every kind of column a listing reads: text, JSON, nullable text, UTC datetimes (naive text on SQLite); a
# datetime bound as a parameter; literals of the statement itself (a status, the limit).
_statement = (
    select(*_items.c)
    .where(
        _items.c.team_id == bindparam("team_id"),
        _items.c.created_at >= bindparam("since"),
        _items.c.status != "archived",
    )
    .order_by(_items.c.id)
    .limit(10)
)


async def _add_items(app: Any, owner: Member) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        session.add_all(
            [
                WorkItem(
                    team_id=owner.team_id,
                    workspace_id=owner.workspace_id,
                    title="Labelled",
                    status="todo",
                    labels=["bug", "ünïcode"],
                    source_created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                ),
                WorkItem(team_id=owner.team_id, workspace_id=owner.workspace_id, title="Bare", status="done"),
            ]
        )


async def test_rows_equal_sqlalchemys_own_for_every_column_type(app: Any, owner: Member, other_team: Member) -> None:
    await _add_items(app, owner)
    await _add_items(app, other_team)
    prepared = PreparedStatement(_statement)
    values = {"team_id": owner.team_id, "since": datetime(2000, 1, 1, tzinfo=UTC)}
    async with app.state.sessionmaker() as session:
        # Before the session has begun its transaction: on SQLite on a pool connection of its own.
        read = await prepared.read(session, values)
        begun = session.in_transaction()
        connection = await session.connection()
        expected = [dict(row) for row in (await connection.execute(_statement, values)).mappings()]
        # Twice: the second run uses the statement compiled by the first.
        first = await prepared.rows(connection, values)
        second = await prepared.rows(connection, values)
    assert len(expected) == 2
    assert first == second == read == expected
    # The SQLite read left the session without a transaction (nothing to commit) and its connection back in the
    # pool; PostgreSQL reads in the session's transaction.
    assert begun is (app.state.engine.dialect.name == "postgresql")
    assert app.state.engine.sync_engine.pool.checkedout() == 0
    labelled = next(row for row in first if row["title"] == "Labelled")
    assert labelled["labels"] == ["bug", "ünïcode"]
    assert labelled["source_created_at"] == datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert labelled["created_at"].tzinfo is UTC


async def test_a_bound_datetime_filters_as_sqlalchemy_binds_it(app: Any, owner: Member) -> None:
    await _add_items(app, owner)
    prepared = PreparedStatement(_statement)
    async with app.state.sessionmaker() as session:
        connection = await session.connection()
        future = await prepared.rows(connection, {"team_id": owner.team_id, "since": datetime(2100, 1, 1, tzinfo=UTC)})
        nobody = await prepared.rows(connection, {"team_id": "0", "since": datetime(2000, 1, 1, tzinfo=UTC)})
    assert future == []
    assert nobody == []


_labels = (
    update(_items)
    .where(_items.c.id == bindparam("item_id"), _items.c.team_id == bindparam("of_team"))
    .values(labels=bindparam("new_labels"), updated_at=bindparam("when"))
    .returning(_items.c.id, _items.c.labels, _items.c.updated_at)
)


async def test_a_write_returns_its_rows_and_commits_with_the_session(app: Any, owner: Member) -> None:
    await _add_items(app, owner)
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    async with app.state.sessionmaker() as session:
        item_id = await session.scalar(select(_items.c.id).where(_items.c.title == "Bare"))
    prepared = PreparedStatement(_labels)
    values = {"item_id": item_id, "of_team": owner.team_id, "new_labels": ["ünïcode"], "when": when}
    async with app.state.sessionmaker() as session, session.begin():
        connection = await session.connection()
        changed = await prepared.rows(connection, values)
        # Another team's row: nothing written, nothing returned.
        unchanged = await prepared.rows(connection, {**values, "of_team": "0"})
    assert changed == [{"id": item_id, "labels": ["ünïcode"], "updated_at": when}]
    assert unchanged == []
    async with app.state.sessionmaker() as session:
        stored = (
            await session.execute(select(_items.c.labels, _items.c.updated_at).where(_items.c.id == item_id))
        ).one()
    assert tuple(stored) == (["ünïcode"], when)


async def test_a_write_rolled_back_with_the_session_leaves_nothing(app: Any, owner: Member) -> None:
    await _add_items(app, owner)
    async with app.state.sessionmaker() as session:
        item_id = await session.scalar(select(_items.c.id).where(_items.c.title == "Bare"))
        connection = await session.connection()
        values = {"item_id": item_id, "of_team": owner.team_id, "new_labels": ["x"], "when": datetime.now(UTC)}
        assert len(await PreparedStatement(_labels).rows(connection, values)) == 1
        await session.rollback()
    async with app.state.sessionmaker() as session:
        labels = await session.scalar(select(_items.c.labels).where(_items.c.id == item_id))
    assert labels == []


async def test_a_read_after_a_write_of_the_session_sees_that_write(app: Any, owner: Member) -> None:
    await _add_items(app, owner)
    read_labels = PreparedStatement(select(_items.c.labels).where(_items.c.title == bindparam("title")))
    async with app.state.sessionmaker() as session:
        item_id = await session.scalar(select(_items.c.id).where(_items.c.title == "Bare"))
    async with app.state.sessionmaker() as session:
        values = {"item_id": item_id, "of_team": owner.team_id, "new_labels": ["mine"], "when": datetime.now(UTC)}
        await PreparedStatement(_labels).rows(await session.connection(), values)
        assert await read_labels.read(session, {"title": "Bare"}) == [{"labels": ["mine"]}]
        await session.rollback()
        # The transaction is over: read again, outside one on SQLite, it finds what is committed.
        assert await read_labels.read(session, {"title": "Bare"}) == [{"labels": []}]


_notes = Table("notes", MetaData(), Column("body", String))


async def test_a_read_on_a_shared_in_memory_connection_leaves_another_sessions_transaction() -> None:
    # ":memory:" has one connection for every session (a static pool): the read must not return it to the pool,
    # whose reset would roll back what the other session has not committed yet.
    engine = create_engine(make_settings("sqlite+aiosqlite:///:memory:"))
    sessions = create_sessionmaker(engine)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_notes.metadata.create_all)
        async with sessions() as writer, sessions() as reader:
            await writer.execute(_notes.insert().values(body="kept"))
            assert await PreparedStatement(select(_notes.c.body)).read(reader, {}) == [{"body": "kept"}]
            await writer.commit()
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(_notes)) == 1
    finally:
        await engine.dispose()
