from collections.abc import Sequence

from platform_server.pagination import PageParams
from platform_server.repository import TeamScopedRepository
from platform_server.workspaces.models import Workspace


class WorkspaceRepository(TeamScopedRepository[Workspace]):
    model = Workspace

    async def list_page(self, params: PageParams) -> tuple[Sequence[Workspace], int]:
        return await self.paginate(self.scoped().order_by(Workspace.id.desc()), params)
