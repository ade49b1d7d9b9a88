"""`PreparedSelect`: the rows SQLAlchemy's own execution gives, on SQLite (inline) and PostgreSQL alike."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select

from platform_server.sqlite_inline import PreparedSelect
from platform_server.work_items.models import WorkItem
from tests.conftest import Member

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
    prepared = PreparedSelect(_statement)
    values = {"team_id": owner.team_id, "since": datetime(2000, 1, 1, tzinfo=UTC)}
    async with app.state.sessionmaker() as session:
        connection = await session.connection()
        expected = [dict(row) for row in (await connection.execute(_statement, values)).mappings()]
        # Twice: the second run uses the statement compiled by the first.
        first = await prepared.rows(connection, values)
        second = await prepared.rows(connection, values)
    assert len(expected) == 2
    assert first == second == expected
    labelled = next(row for row in first if row["title"] == "Labelled")
    assert labelled["labels"] == ["bug", "ünïcode"]
    assert labelled["source_created_at"] == datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert labelled["created_at"].tzinfo is UTC


async def test_a_bound_datetime_filters_as_sqlalchemy_binds_it(app: Any, owner: Member) -> None:
    await _add_items(app, owner)
    prepared = PreparedSelect(_statement)
    async with app.state.sessionmaker() as session:
        connection = await session.connection()
        future = await prepared.rows(connection, {"team_id": owner.team_id, "since": datetime(2100, 1, 1, tzinfo=UTC)})
        nobody = await prepared.rows(connection, {"team_id": "0", "since": datetime(2000, 1, 1, tzinfo=UTC)})
    assert future == []
    assert nobody == []
