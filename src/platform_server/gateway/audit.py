"""The tool-call audit: one row per call, written in its own transaction, listed per workspace."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.auth.principal import Principal
from platform_server.db import utcnow
from platform_server.errors import ResourceNotFound
from platform_server.gateway.models import ToolCall, ToolCallChannel, ToolCallOutcome
from platform_server.gateway.repository import ToolCallRepository
from platform_server.ids import new_id
from platform_server.pagination import PageParams
from platform_server.workspaces.repository import WorkspaceRepository

# Tool names come from the client; anything longer than the MCP limit is cut rather than refused.
_MAX_TOOL_NAME = 128
_MAX_ARGUMENT_NAMES = 50
_MAX_ARGUMENT_NAME_LENGTH = 100
# Built once, on the table: every tool call writes one row, and the ORM's unit of work would double the cost.
_INSERT_TOOL_CALL = insert(ToolCall.metadata.tables[ToolCall.__tablename__])


@dataclass(frozen=True, slots=True)
class AuditEntry:
    principal: Principal
    workspace_id: str
    tool: str
    provider: str | None
    integration_id: str | None
    channel: ToolCallChannel
    outcome: ToolCallOutcome
    error_code: str | None
    argument_names: Sequence[str]
    duration_ms: int


def argument_names(arguments: object) -> list[str]:
    """The names only: values may hold customer data and are never recorded."""
    if not isinstance(arguments, dict):
        return []
    names: Iterable[str] = (str(name)[:_MAX_ARGUMENT_NAME_LENGTH] for name in arguments)
    return sorted(names)[:_MAX_ARGUMENT_NAMES]


class AuditService:
    async def record(self, sessionmaker: async_sessionmaker[AsyncSession], entry: AuditEntry) -> str:
        """Commits on its own, so a call that fails (and rolls its request back) is still on record."""
        tool_call_id = new_id()
        principal = entry.principal
        values = {
            "id": tool_call_id,
            "team_id": principal.team_id,
            "workspace_id": entry.workspace_id,
            "integration_id": entry.integration_id,
            "user_id": principal.user_id,
            "api_key_id": principal.api_key_id,
            "tool": entry.tool[:_MAX_TOOL_NAME],
            "provider": entry.provider,
            "channel": entry.channel,
            "outcome": entry.outcome,
            "error_code": entry.error_code,
            "argument_names": list(entry.argument_names),
            "duration_ms": entry.duration_ms,
            "created_at": utcnow(),
        }
        async with sessionmaker() as session, session.begin():
            await session.execute(_INSERT_TOOL_CALL, values)
        return tool_call_id

    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        workspace_id: str,
        tool: str | None,
        outcome: ToolCallOutcome | None,
        params: PageParams,
    ) -> tuple[Sequence[ToolCall], int]:
        if await WorkspaceRepository(session, principal.team_id).get(workspace_id) is None:
            raise ResourceNotFound("Workspace", workspace_id)
        return await ToolCallRepository(session, principal.team_id).list_page(workspace_id, tool, outcome, params)


audit_service = AuditService()
