from dataclasses import dataclass

from platform_server.teams.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from an API key, cached briefly, never carrying the key itself."""

    user_id: str
    team_id: str
    role: Role
    api_key_id: str

    @property
    def can_manage(self) -> bool:
        return self.role in (Role.owner, Role.admin)
