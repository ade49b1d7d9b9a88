"""Remote servers' tools as the gateway serves them: loaded with a workspace's enablements, listed under their
exposed names with their approved definitions, and called upstream with the team's stored credentials."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mcp_types as mcp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.config import Settings
from platform_server.integrations.models import Integration, IntegrationStatus
from platform_server.integrations.remote_mcp import integrity
from platform_server.integrations.remote_mcp.grants import upstream_limits
from platform_server.integrations.remote_mcp.models import RemoteMcpServer, ToolStatus
from platform_server.integrations.remote_mcp.repository import RemoteMcpServerRepository, RemoteMcpToolRepository
from platform_server.integrations.remote_mcp.service import enablement_provider, server_target
from platform_server.integrations.remote_mcp.upstream import call_tool
from platform_server.integrations.repository import IntegrationRepository
from platform_server.log import get_logger
from platform_server.security import Encryptor

logger = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RemoteTool:
    exposed_name: str
    # As the upstream names it.
    name: str
    # The enablement's provider key, `mcp:<slug>`.
    provider: str
    status: ToolStatus
    refusal: str | None
    # The approved definition under the exposed name; None while the tool is withheld.
    mcp_tool: mcp.Tool | None
    server: RemoteMcpServer

    @property
    def read_only(self) -> bool:
        tool = self.mcp_tool
        return tool is not None and tool.annotations is not None and tool.annotations.read_only_hint is True


def _approved_form(exposed_name: str, approved: Mapping[str, Any] | None) -> mcp.Tool | None:
    if approved is None:
        return None
    present = {name: value for name, value in approved.items() if value is not None}
    return mcp.Tool.model_validate({**present, "name": exposed_name})


async def load_remote_tools(
    session: AsyncSession, team_id: str, integration_ids: Sequence[str]
) -> dict[str, RemoteTool]:
    """The tools of the team's remote servers among `integration_ids`, by exposed name."""
    servers = await RemoteMcpServerRepository(session, team_id).by_integration(integration_ids)
    tools: dict[str, RemoteTool] = {}
    for row in await RemoteMcpToolRepository(session, team_id).of_servers(list(servers)):
        server = servers[row.integration_id]
        exposed = integrity.exposed_name(server.slug, row.name)
        status = row.status
        tools[exposed] = RemoteTool(
            exposed_name=exposed,
            name=row.name,
            provider=enablement_provider(server.slug),
            status=status,
            refusal=row.refusal,
            mcp_tool=_approved_form(exposed, row.approved_definition) if status is ToolStatus.approved else None,
            server=server,
        )
    return tools


async def call_remote(
    settings: Settings,
    encryptor: Encryptor,
    tool: RemoteTool,
    arguments: Mapping[str, Any],
    access_token: str | None = None,
) -> dict[str, Any]:
    """Runs the tool upstream (with `access_token` for a server connected with OAuth); answers its result as
    the gateway passes it on (content, structuredContent, isError, _meta) or raises an `UpstreamError`."""
    result = await call_tool(
        server_target(encryptor, tool.server, access_token),
        tool.name,
        dict(arguments),
        limits=upstream_limits(settings),
    )
    wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    wire.pop("resultType", None)
    wire.setdefault("isError", False)
    return wire


async def expire_server(sessionmaker: async_sessionmaker[AsyncSession], integration: Integration, reason: str) -> None:
    """The upstream refused the stored credentials: the integration needs reconnecting. Committed on its own,
    whatever happens to the caller's work."""
    async with sessionmaker() as session, session.begin():
        stored = await IntegrationRepository(session, integration.team_id).get(integration.id)
        if stored is not None:
            stored.status = IntegrationStatus.expired
            stored.status_reason = reason
    logger.warning("remote_mcp_credentials_refused", integration_id=integration.id)
