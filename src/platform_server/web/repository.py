from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select

from platform_server.auth.models import ApiKey
from platform_server.repository import Repository, delete_batch
from platform_server.teams.models import Team, User
from platform_server.web.models import WebSession


@dataclass(frozen=True, slots=True)
class ActiveSession:
    user_id: str
    team_id: str
    api_key_id: str
    role: str
    email: str
    team_name: str


# Built once: it runs on every settings-page request. The joins make a revoked key, a deleted user or an
# expired session all look like no session at all.
_active_session = (
    select(WebSession.user_id, WebSession.team_id, WebSession.api_key_id, User.role, User.email, Team.name)
    .join(ApiKey, ApiKey.id == WebSession.api_key_id)
    .join(User, User.id == WebSession.user_id)
    .join(Team, Team.id == WebSession.team_id)
    .where(
        WebSession.token_hash == bindparam("token_hash"),
        WebSession.expires_at > bindparam("now"),
        ApiKey.revoked_at.is_(None),
    )
)


class WebSessionRepository(Repository[WebSession]):
    """Looked up by token before the team is known, so these queries cannot be team-scoped."""

    model = WebSession

    async def active(self, token_hash: str, now: datetime) -> ActiveSession | None:
        row = (await self.session.execute(_active_session, {"token_hash": token_hash, "now": now})).first()
        return ActiveSession(*row) if row is not None else None

    async def delete_by_token(self, token_hash: str) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))

    async def delete_expired(self, now: datetime) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.expires_at <= now))

    async def delete_expired_batch(self, now: datetime, limit: int) -> int:
        return await delete_batch(self.session, WebSession, WebSession.expires_at <= now, limit=limit)
