from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.gateway.models import ToolCall
from platform_server.ids import is_valid_id
from platform_server.integrations.models import Integration, WorkspaceIntegration
from platform_server.integrations.remote_mcp.federation import RemoteTool, load_remote_tools
from platform_server.integrations.remote_mcp.models import REMOTE_PROVIDER, RemoteMcpServer
from platform_server.pagination import PageParams
from platform_server.repository import Repository, TeamScopedRepository, delete_batch
from platform_server.workspaces.models import Workspace


class ToolCallRepository(TeamScopedRepository[ToolCall]):
    model = ToolCall

    async def list_page(
        self, workspace_id: str, tool: str | None, outcome: str | None, params: PageParams
    ) -> tuple[Sequence[ToolCall], int]:
        statement = self.scoped().where(ToolCall.workspace_id == workspace_id)
        if tool is not None:
            statement = statement.where(ToolCall.tool == tool)
        if outcome is not None:
            statement = statement.where(ToolCall.outcome == outcome)
        return await self.paginate(statement.order_by(ToolCall.id.desc()), params)


class ToolCallRetentionRepository(Repository[ToolCall]):
    """Across teams: how long the audit is kept is the platform's setting, not a team's."""

    model = ToolCall

    async def delete_created_before(self, first_kept_id: str, limit: int) -> int:
        # Ids are time-ordered: the primary key finds old calls, no index on created_at is needed.
        return await delete_batch(self.session, ToolCall, ToolCall.id < first_kept_id, limit=limit)


@dataclass(frozen=True, slots=True)
class Enablement:
    """One integration enabled for a workspace, with what the gateway needs to list and run its tools."""

    access: WorkspaceIntegration
    integration: Integration

    @property
    def provider(self) -> str:
        return self.access.provider

    def allows(self, tool_name: str) -> bool:
        return self.access.enabled and tool_name in (self.access.enabled_tools or ())


@dataclass(frozen=True, slots=True)
class WorkspaceTools:
    workspace_id: str
    by_provider: dict[str, Enablement]
    # The tools of the remote MCP servers enabled here, by exposed name (`<slug>__<tool>`), whatever their status.
    remote: dict[str, RemoteTool] = field(default_factory=dict)
    remote_servers: list[RemoteMcpServer] = field(default_factory=list)


# Built once: it runs on every MCP request. The workspace row comes back even without any enablement (outer
# joins), so "no such workspace" and "nothing enabled" stay distinguishable in one round trip.
_workspace_tools = (
    select(Workspace.id, WorkspaceIntegration, Integration)
    .select_from(Workspace)
    .outerjoin(
        WorkspaceIntegration,
        and_(WorkspaceIntegration.workspace_id == Workspace.id, WorkspaceIntegration.team_id == Workspace.team_id),
    )
    .outerjoin(
        Integration,
        and_(Integration.id == WorkspaceIntegration.integration_id, Integration.team_id == Workspace.team_id),
    )
    .where(Workspace.id == bindparam("workspace_id"), Workspace.team_id == bindparam("team_id"))
)


class WorkspaceToolsRepository:
    """Reads a workspace's enablements, scoped to the caller's team: another team's workspace is not found."""

    def __init__(self, session: AsyncSession, team_id: str) -> None:
        self.session = session
        self.team_id = team_id

    async def get(self, workspace_id: str) -> WorkspaceTools | None:
        if not is_valid_id(workspace_id):
            return None
        rows = (
            await self.session.execute(_workspace_tools, {"workspace_id": workspace_id, "team_id": self.team_id})
        ).all()
        if not rows:
            return None
        by_provider = {
            access.provider: Enablement(access=access, integration=integration)
            for _, access, integration in rows
            if access is not None and integration is not None
        }
        remote_ids = [
            enablement.integration.id
            for enablement in by_provider.values()
            if enablement.integration.provider == REMOTE_PROVIDER
        ]
        if not remote_ids:
            return WorkspaceTools(workspace_id=workspace_id, by_provider=by_provider)
        servers, remote = await load_remote_tools(self.session, self.team_id, remote_ids)
        return WorkspaceTools(workspace_id, by_provider, remote, servers)
