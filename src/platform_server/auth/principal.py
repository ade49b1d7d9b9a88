from dataclasses import dataclass

from platform_server.teams.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from an API key (cached briefly) or from an MCP client's OAuth access token,
    never carrying the secret itself."""

    user_id: str
    team_id: str
    role: Role
    api_key_id: str | None
    # Set for OAuth access tokens: the client (oauth_clients.id) and the scopes the person granted it.
    oauth_client_id: str | None = None
    oauth_scopes: frozenset[str] = frozenset()

    @property
    def can_manage(self) -> bool:
        return self.role in (Role.owner, Role.admin)
