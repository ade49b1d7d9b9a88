from collections.abc import Sequence

from sqlalchemy import func, select

from platform_server.ids import is_valid_id
from platform_server.integrations.remote_mcp.models import RemoteMcpServer, RemoteMcpTool
from platform_server.repository import TeamScopedRepository


class RemoteMcpServerRepository(TeamScopedRepository[RemoteMcpServer]):
    model = RemoteMcpServer

    async def get(self, object_id: str) -> RemoteMcpServer | None:
        if not is_valid_id(object_id):
            return None
        result: RemoteMcpServer | None = await self.session.scalar(
            self.scoped().where(RemoteMcpServer.integration_id == object_id)
        )
        return result

    async def by_integration(self, integration_ids: Sequence[str]) -> dict[str, RemoteMcpServer]:
        if not integration_ids:
            return {}
        rows = await self.session.scalars(
            select(RemoteMcpServer).where(
                RemoteMcpServer.team_id == self.team_id, RemoteMcpServer.integration_id.in_(integration_ids)
            )
        )
        return {server.integration_id: server for server in rows}

    async def slugs_starting_with(self, prefix: str) -> set[str]:
        rows = await self.session.scalars(
            select(RemoteMcpServer.slug).where(
                RemoteMcpServer.team_id == self.team_id, RemoteMcpServer.slug.startswith(prefix, autoescape=True)
            )
        )
        return set(rows)

    async def tool_counts(self, integration_ids: Sequence[str]) -> dict[str, int]:
        if not integration_ids:
            return {}
        rows = await self.session.execute(
            select(RemoteMcpTool.integration_id, func.count())
            .where(RemoteMcpTool.team_id == self.team_id, RemoteMcpTool.integration_id.in_(integration_ids))
            .group_by(RemoteMcpTool.integration_id)
        )
        return {integration_id: int(count) for integration_id, count in rows}


class RemoteMcpToolRepository(TeamScopedRepository[RemoteMcpTool]):
    model = RemoteMcpTool

    async def of_servers(self, integration_ids: Sequence[str]) -> Sequence[RemoteMcpTool]:
        if not integration_ids:
            return []
        rows = await self.session.scalars(
            select(RemoteMcpTool)
            .where(RemoteMcpTool.team_id == self.team_id, RemoteMcpTool.integration_id.in_(integration_ids))
            .order_by(RemoteMcpTool.integration_id, RemoteMcpTool.name)
        )
        return rows.all()

    async def named(self, integration_id: str, name: str) -> RemoteMcpTool | None:
        result: RemoteMcpTool | None = await self.session.scalar(
            self.scoped().where(RemoteMcpTool.integration_id == integration_id, RemoteMcpTool.name == name)
        )
        return result
