"""Every ORM model, imported in one place so metadata (and Alembic) sees the whole schema."""

from platform_server.auth.models import ApiKey
from platform_server.features.models import Feature
from platform_server.teams.models import Team, User
from platform_server.work_items.models import WorkItem
from platform_server.workspaces.models import Workspace

__all__ = ["ApiKey", "Feature", "Team", "User", "WorkItem", "Workspace"]
