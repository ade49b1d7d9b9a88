from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.errors import ResourceNotFound
from platform_server.pagination import PageParams
from platform_server.workspaces.models import Workspace
from platform_server.workspaces.repository import WorkspaceRepository
from platform_server.workspaces.schemas import WorkspaceCreate, WorkspaceUpdate


class WorkspaceService:
    async def list(
        self, session: AsyncSession, principal: Principal, params: PageParams
    ) -> tuple[Sequence[Workspace], int]:
        return await WorkspaceRepository(session, principal.team_id).list_page(params)

    async def get(self, session: AsyncSession, principal: Principal, workspace_id: str) -> Workspace:
        workspace = await WorkspaceRepository(session, principal.team_id).get(workspace_id)
        if workspace is None:
            raise ResourceNotFound("Workspace", workspace_id)
        return workspace

    async def create(self, session: AsyncSession, principal: Principal, data: WorkspaceCreate) -> Workspace:
        workspace = WorkspaceRepository(session, principal.team_id).add(
            Workspace(team_id=principal.team_id, name=data.name, description=data.description)
        )
        await session.flush()
        return workspace

    async def update(
        self, session: AsyncSession, principal: Principal, workspace_id: str, data: WorkspaceUpdate
    ) -> Workspace:
        workspace = await self.get(session, principal, workspace_id)
        for field, value in data.changes().items():
            setattr(workspace, field, value)
        await session.flush()
        return workspace

    async def delete(self, session: AsyncSession, principal: Principal, workspace_id: str) -> None:
        workspace = await self.get(session, principal, workspace_id)
        await WorkspaceRepository(session, principal.team_id).delete(workspace)
        await session.flush()


workspace_service = WorkspaceService()
