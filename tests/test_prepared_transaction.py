"""`PreparedTransaction`: prepared statements in one transaction of their own (`begin`, on SQLite a pooled
connection's cursor) or in a session's (`of_session`); both commit or roll back as a whole, and `on_commit`
callbacks run after a commit only."""

from typing import Any

import pytest

from platform_server.sqlite_inline import PreparedTransaction
from platform_server.webhook_events.models import WebhookEvent
from platform_server.webhook_events.repository import insert_event_once, mark_event_processed
from tests.conftest import row_count


class Failed(Exception):
    pass


async def _store(transaction: PreparedTransaction, external_id: str) -> str | None:
    return await insert_event_once(transaction, "stripe", external_id, "invoice.paid", {"id": external_id})


async def test_begin_commits_its_statements_then_runs_the_callbacks(app: Any) -> None:
    engine = app.state.engine
    called: list[str] = []
    async with PreparedTransaction.begin(engine) as transaction:
        row_id = await _store(transaction, "evt_1")
        assert row_id is not None
        await mark_event_processed(transaction, row_id)
        transaction.on_commit(lambda: called.append("commit"))
        # SQLite: a pooled connection's cursor, no SQLAlchemy connection; other databases: `engine.begin()`.
        assert (transaction.connection is None) is (engine.dialect.name == "sqlite")
        assert called == []
    assert called == ["commit"]
    assert await row_count(app, WebhookEvent) == 1
    assert engine.sync_engine.pool.checkedout() == 0
    async with PreparedTransaction.begin(engine) as transaction:
        assert await _store(transaction, "evt_1") is None


async def test_begin_rolls_back_when_the_block_raises_and_skips_the_callbacks(app: Any) -> None:
    engine = app.state.engine
    called: list[str] = []

    async def store_then_fail() -> None:
        async with PreparedTransaction.begin(engine) as transaction:
            assert await _store(transaction, "evt_1") is not None
            transaction.on_commit(lambda: called.append("commit"))
            raise Failed

    with pytest.raises(Failed):
        await store_then_fail()
    assert called == []
    assert await row_count(app, WebhookEvent) == 0
    assert engine.sync_engine.pool.checkedout() == 0
    # The database is free for the next writer (SQLite's write lock and the writer gate were let go).
    async with PreparedTransaction.begin(engine) as transaction:
        assert await _store(transaction, "evt_1") is not None
    assert await row_count(app, WebhookEvent) == 1


async def test_of_session_runs_in_the_sessions_transaction(app: Any) -> None:
    called: list[str] = []
    async with app.state.sessionmaker() as session:
        async with session.begin():
            transaction = await PreparedTransaction.of_session(session)
            await _store(transaction, "evt_1")
            transaction.on_commit(lambda: called.append("first"))
            assert called == []
        assert called == ["first"]
        session_transaction = await session.begin()
        transaction = await PreparedTransaction.of_session(session)
        await _store(transaction, "evt_2")
        transaction.on_commit(lambda: called.append("second"))
        await session_transaction.rollback()
        # A later commit of the same session does not run the callback of the transaction rolled back.
        async with session.begin():
            await PreparedTransaction.of_session(session)
    assert called == ["first"]
    assert await row_count(app, WebhookEvent) == 1
