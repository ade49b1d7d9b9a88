"""A per-process cache of each workspace's enablements: every MCP request needs them, an admin rarely changes them.

A commit in this process that writes a workspace, an enablement, an integration or a remote server's tools (an
admin's change, a token refresh, an integration marked expired, a tool changed upstream) empties it at once;
another process's change reaches this one within `ttl_seconds`, the same bound the API-key cache puts on a
revocation.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from platform_server.gateway.repository import WorkspaceTools, WorkspaceToolsRepository
from platform_server.integrations.models import Integration, WorkspaceIntegration
from platform_server.integrations.remote_mcp.models import RemoteMcpServer, RemoteMcpTool
from platform_server.workspaces.models import Workspace

DEFAULT_TTL_SECONDS = 5.0
_WATCHED = (Workspace, WorkspaceIntegration, Integration, RemoteMcpServer, RemoteMcpTool)
_CHANGED = "gateway_tools_changed"


class _Generation:
    """Bumped by every commit that changed a watched row; an entry read under an older one is stale."""

    value = 0


@dataclass(slots=True)
class CachedWorkspace:
    tools: WorkspaceTools
    generation: int
    expires_at: float
    # The workspace's `tools/list` result per protocol version, serialized on first use.
    listings: dict[str, bytes] = field(default_factory=dict)


class WorkspaceToolsCache:
    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], CachedWorkspace] = {}

    async def get(self, session: AsyncSession, team_id: str, workspace_id: str) -> CachedWorkspace | None:
        """The team's workspace with its enablements, or None when the team has no such workspace."""
        key = (team_id, workspace_id)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry.generation == _Generation.value and entry.expires_at > now:
            return entry
        # Taken before the read: a change committed while it runs leaves the entry stale, never current.
        generation = _Generation.value
        tools = await WorkspaceToolsRepository(session, team_id).get(workspace_id)
        if tools is None:
            self._entries.pop(key, None)
            return None
        entry = CachedWorkspace(tools, generation, now + self.ttl_seconds)
        if self.ttl_seconds > 0:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = entry
        return entry


def _watched(objects: Iterable[Any]) -> bool:
    return any(isinstance(obj, _WATCHED) for obj in objects)


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    if _watched(session.new) or _watched(session.dirty) or _watched(session.deleted):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    # Bulk UPDATE/DELETE statements (a token refresh, an integration marked expired) bypass the flush.
    if (state.is_update or state.is_delete or state.is_insert) and any(
        mapper.class_ in _WATCHED for mapper in state.all_mappers
    ):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _bump(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _Generation.value += 1


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CHANGED, None)
