"""The audit writer on both databases: every queued row is stored, and one bad row holds up no other."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from platform_server.auth.principal import Principal
from platform_server.gateway.audit import AuditEntry, AuditWriter
from platform_server.gateway.dependencies import AUDIT_WAIT_SECONDS
from platform_server.gateway.models import ToolCall, ToolCallChannel, ToolCallOutcome
from platform_server.teams.models import Role
from tests.conftest import Member, row_count


def _entry(member: Member, workspace_id: str, tool: str = "github_list_issues") -> AuditEntry:
    return AuditEntry(
        principal=Principal(user_id=member.user_id, team_id=member.team_id, role=Role.owner, api_key_id="1"),
        workspace_id=workspace_id,
        tool=tool,
        provider="github",
        integration_id=None,
        channel=ToolCallChannel.mcp,
        outcome=ToolCallOutcome.success,
        error_code=None,
        argument_names=["repo"],
        duration_ms=3,
    )


async def test_shutdown_stores_every_queued_row(app: Any, owner: Member) -> None:
    writer = AuditWriter(app.state.engine)
    ids = [await writer.record(_entry(owner, owner.workspace_id, f"tool_{n}")) for n in range(5)]
    await writer.aclose()
    async with app.state.sessionmaker() as session:
        stored = (await session.scalars(select(ToolCall.id).order_by(ToolCall.id))).all()
    assert stored == sorted(ids)


async def test_a_row_whose_workspace_is_gone_does_not_hold_up_the_others(app: Any, owner: Member) -> None:
    writer = AuditWriter(app.state.engine)
    kept = await writer.record(_entry(owner, owner.workspace_id))
    with capture_logs() as logs:
        gone = await writer.record(_entry(owner, "1234567890123456789"))
        after = await writer.record(_entry(owner, owner.workspace_id))
        await writer.flush()
    await writer.aclose()
    async with app.state.sessionmaker() as session:
        stored = set((await session.scalars(select(ToolCall.id))).all())
    assert stored == {kept, after}
    assert [log["tool_call_id"] for log in logs if log["event"] == "audit_row_without_workspace"] == [gone]


async def test_closing_an_unused_writer_does_nothing(app: Any) -> None:
    await AuditWriter(app.state.engine).aclose()
    assert await row_count(app, ToolCall) == 0


async def test_a_failed_write_is_retried_until_it_lands(app: Any, owner: Member) -> None:
    async def rename(old: str, new: str) -> None:
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    writer = AuditWriter(app.state.engine)
    # The table is gone for a moment, as during an outage: every write fails until it is back.
    await rename("tool_calls", "tool_calls_away")
    with capture_logs() as logs:
        tool_call_id = await writer.record(_entry(owner, owner.workspace_id))
        await asyncio.sleep(0.3)
        await rename("tool_calls_away", "tool_calls")
        await asyncio.wait_for(writer.flush(), timeout=10)
    await writer.aclose()
    async with app.state.sessionmaker() as session:
        assert (await session.scalars(select(ToolCall.id))).all() == [tool_call_id]
    assert any(log["event"] == "audit_write_failed" for log in logs)


def _poison(member: Member) -> AuditEntry:
    """A row neither database can take (no UTF-8 encoder takes a lone surrogate): as if the edge had let it in."""
    return replace(_entry(member, member.workspace_id, "x\ud800"), argument_names=["\ud800"])


async def _stored_ids(app: Any) -> set[str]:
    async with app.state.sessionmaker() as session:
        return set((await session.scalars(select(ToolCall.id))).all())


async def test_a_row_the_database_refuses_is_dropped_and_holds_up_no_other(app: Any, owner: Member) -> None:
    writer = AuditWriter(app.state.engine)
    with capture_logs() as logs:
        before = await writer.record(_entry(owner, owner.workspace_id))
        poisoned = [await writer.record(_poison(owner)) for _ in range(2)]
        after = await writer.record(_entry(owner, owner.workspace_id))
        await asyncio.wait_for(writer.flush(), timeout=5)
        # The writer goes on: a later batch is stored as usual.
        last = await writer.record(_entry(owner, owner.workspace_id))
        await asyncio.wait_for(writer.flush(), timeout=5)
    await writer.aclose()
    assert await _stored_ids(app) == {before, after, last}
    dropped = [log for log in logs if log["event"] == "audit_row_dropped"]
    assert sorted(log["tool_call_id"] for log in dropped) == sorted(poisoned)
    assert all(log["reason"] for log in dropped)
    # The reason names the failure, never the values.
    assert not any("\ud800" in repr(log) for log in logs)


@asynccontextmanager
async def _writes_blocked(engine: AsyncEngine) -> AsyncIterator[None]:
    """Another connection holds the lock that inserts into tool_calls need; reads go on."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        if engine.dialect.name == "postgresql":
            await connection.execute(text("LOCK TABLE tool_calls IN SHARE MODE"))
        else:
            await connection.execute(text("UPDATE teams SET name = name"))
        try:
            yield
        finally:
            await transaction.rollback()


class TestBlockedWriter:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # On PostgreSQL two connections in all: the blocked writer holds one, the rest must make do with one.
        return {"DATABASE_POOL_SIZE": 1, "RATE_LIMIT_ENABLED": False}

    async def test_listings_wait_a_bounded_time_without_holding_a_connection(
        self, app: Any, client: httpx.AsyncClient, owner: Member, cleanup_engine: AsyncEngine
    ) -> None:
        listing = f"/api/workspaces/{owner.workspace_id}/tool-calls"
        stored = await writer_row(app, owner)
        assert (await client.get(listing, headers=owner.headers)).status_code == 200
        async with _writes_blocked(cleanup_engine):
            blocked = await app.state.audit_writer.record(_entry(owner, owner.workspace_id))
            started = time.monotonic()
            listings = [asyncio.create_task(client.get(listing, headers=owner.headers)) for _ in range(3)]
            await asyncio.sleep(0.3)
            # The listings are waiting for the writer, not holding the pool: the database is still reachable.
            ready = await asyncio.wait_for(client.get("/readyz"), timeout=1.5)
            assert ready.status_code == 200
            responses = await asyncio.wait_for(asyncio.gather(*listings), timeout=AUDIT_WAIT_SECONDS + 3)
            assert time.monotonic() - started < AUDIT_WAIT_SECONDS + 3
            for response in responses:
                assert response.status_code == 200
                assert [call["id"] for call in response.json()["data"]] == [stored]
        await asyncio.wait_for(app.state.audit_writer.flush(), timeout=10)
        assert await _stored_ids(app) == {stored, blocked}

    async def test_shutdown_is_bounded_while_the_writer_is_blocked(
        self, app: Any, owner: Member, cleanup_engine: AsyncEngine
    ) -> None:
        writer = AuditWriter(app.state.engine, shutdown_seconds=0.5)
        async with _writes_blocked(cleanup_engine):
            with capture_logs() as logs:
                await writer.record(_entry(owner, owner.workspace_id))
                started = time.monotonic()
                await writer.aclose()
                assert time.monotonic() - started < 3
        assert [log["rows"] for log in logs if log["event"] == "audit_rows_not_stored_at_shutdown"] == [1]


async def writer_row(app: Any, member: Member) -> str:
    tool_call_id = await app.state.audit_writer.record(_entry(member, member.workspace_id))
    await asyncio.wait_for(app.state.audit_writer.flush(), timeout=5)
    return tool_call_id


async def test_a_write_that_keeps_failing_is_given_up_after_its_retries(app: Any, owner: Member) -> None:
    async def rename(old: str, new: str) -> None:
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    writer = AuditWriter(app.state.engine, retry_seconds=(0.01, 0.01))
    await rename("tool_calls", "tool_calls_away")
    try:
        with capture_logs() as logs:
            await writer.record(_entry(owner, owner.workspace_id))
            await asyncio.wait_for(writer.flush(), timeout=5)
    finally:
        await rename("tool_calls_away", "tool_calls")
    assert [log["event"] for log in logs if log["event"].startswith("audit_")] == [
        "audit_write_failed",
        "audit_write_failed",
        "audit_rows_dropped",
    ]
    later = await writer.record(_entry(owner, owner.workspace_id))
    await writer.aclose()
    assert await _stored_ids(app) == {later}


async def test_rows_queued_while_the_first_waits_are_written_in_one_insert(app: Any, owner: Member) -> None:
    inserts: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if statement.startswith("INSERT INTO tool_calls"):
            inserts.append(len(parameters) if executemany else 1)

    writer = AuditWriter(app.state.engine, linger_seconds=0.5)
    event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
    try:
        first = await writer.record(_entry(owner, owner.workspace_id))
        # The writer has taken the first row and waits for more.
        await asyncio.sleep(0.05)
        rest = [await writer.record(_entry(owner, owner.workspace_id)) for _ in range(3)]
        await asyncio.wait_for(writer.flush(), timeout=5)
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
    await writer.aclose()
    assert inserts == [4]
    assert await _stored_ids(app) == {first, *rest}


async def test_a_flush_does_not_wait_for_the_linger(app: Any, owner: Member) -> None:
    writer = AuditWriter(app.state.engine, linger_seconds=3600)
    tool_call_id = await writer.record(_entry(owner, owner.workspace_id))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(writer.flush(), timeout=5)
    assert await _stored_ids(app) == {tool_call_id}
    # A row queued after the flush waits again, and the next flush hurries it as well.
    later = await writer.record(_entry(owner, owner.workspace_id))
    await asyncio.wait_for(writer.flush(), timeout=5)
    await writer.aclose()
    assert await _stored_ids(app) == {tool_call_id, later}
