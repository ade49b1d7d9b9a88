"""Sign-in sessions of the settings page: an API key in, an HttpOnly cookie out."""

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.auth.service import FailedAuthGuard, PrincipalCache, auth_service
from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.errors import Unauthorized
from platform_server.security import hash_token, random_token
from platform_server.teams.models import Role
from platform_server.web.models import WebSession
from platform_server.web.repository import WebSessionRepository

SESSION_COOKIE = "platform_session"
# Only the settings pages need the cookies; the API authenticates by header alone, so it never sees them
# and stays immune to CSRF.
COOKIE_PATH = "/settings"
MAX_API_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class SignedIn:
    principal: Principal
    # The raw cookie value: the CSRF tokens of this session are bound to it.
    token: str
    email: str
    team_name: str


class WebSessionService:
    async def sign_in(
        self,
        session: AsyncSession,
        cache: PrincipalCache,
        settings: Settings,
        api_key: str,
        guard: FailedAuthGuard | None = None,
    ) -> str:
        """Checks the key exactly as the API does (failed attempts count against the same per-address
        limit), then opens a session standing on it."""
        api_key = api_key.strip()
        if not api_key or len(api_key) > MAX_API_KEY_LENGTH:
            if guard is not None:
                await guard.failed()
            raise Unauthorized("That API key is not valid or has been revoked")
        try:
            principal = await auth_service.authenticate(session, cache, f"Bearer {api_key}", guard)
        except Unauthorized as exc:
            raise Unauthorized("That API key is not valid or has been revoked") from exc
        now = utcnow()
        repository = WebSessionRepository(session)
        await repository.delete_expired(now)
        token = random_token()
        repository.add(
            WebSession(
                token_hash=hash_token(token),
                team_id=principal.team_id,
                user_id=principal.user_id,
                api_key_id=principal.api_key_id,
                expires_at=now + timedelta(seconds=settings.WEB_SESSION_TTL_SECONDS),
            )
        )
        await session.flush()
        return token

    async def resolve(self, session: AsyncSession, token: str | None) -> SignedIn | None:
        if not token or len(token) > MAX_API_KEY_LENGTH:
            return None
        found = await WebSessionRepository(session).active(hash_token(token), utcnow())
        if found is None:
            return None
        principal = Principal(
            user_id=found.user_id, team_id=found.team_id, role=Role(found.role), api_key_id=found.api_key_id
        )
        return SignedIn(principal=principal, token=token, email=found.email, team_name=found.team_name)

    async def sign_out(self, session: AsyncSession, token: str | None) -> None:
        if token:
            await WebSessionRepository(session).delete_by_token(hash_token(token))


def cookies_secure(request: Request, settings: Settings) -> bool:
    """Secure whenever the page is served over https, directly or (per X-Forwarded-Proto) behind a proxy."""
    return request.url.scheme == "https" or settings.PUBLIC_BASE_URL.startswith("https://")


def set_session_cookie(response: Response, request: Request, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        # The same lifetime as the row: the browser forgets the cookie when the server stops accepting it.
        max_age=settings.WEB_SESSION_TTL_SECONDS,
        path=COOKIE_PATH,
        secure=cookies_secure(request, settings),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, settings: Settings, name: str, path: str = COOKIE_PATH) -> None:
    response.delete_cookie(name, path=path, secure=cookies_secure(request, settings), httponly=True, samesite="lax")


web_session_service = WebSessionService()
