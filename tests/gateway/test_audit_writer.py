"""The audit writer on both databases: every queued row is stored, and one bad row holds up no other."""

import asyncio
from typing import Any

from sqlalchemy import select, text
from structlog.testing import capture_logs

from platform_server.auth.principal import Principal
from platform_server.gateway.audit import AuditEntry, AuditWriter
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
    writer = AuditWriter(app.state.sessionmaker)
    ids = [await writer.record(_entry(owner, owner.workspace_id, f"tool_{n}")) for n in range(5)]
    await writer.aclose()
    async with app.state.sessionmaker() as session:
        stored = (await session.scalars(select(ToolCall.id).order_by(ToolCall.id))).all()
    assert stored == sorted(ids)


async def test_a_row_whose_workspace_is_gone_does_not_hold_up_the_others(app: Any, owner: Member) -> None:
    writer = AuditWriter(app.state.sessionmaker)
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
    await AuditWriter(app.state.sessionmaker).aclose()
    assert await row_count(app, ToolCall) == 0


async def test_a_failed_write_is_retried_until_it_lands(app: Any, owner: Member) -> None:
    async def rename(old: str, new: str) -> None:
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    writer = AuditWriter(app.state.sessionmaker)
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
