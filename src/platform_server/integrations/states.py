"""Pending authorizations, whoever the authorization server is (a native provider or a remote MCP server's):
the state is kept only as its hash and the PKCE verifier only encrypted, bound to that state."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.db import utcnow
from platform_server.integrations.models import OAuthState
from platform_server.integrations.repository import OAuthStateRepository
from platform_server.security import Encryptor, hash_token, random_token

STATE_LIFETIME = timedelta(minutes=10)


def new_state() -> str:
    return random_token(32)


def _verifier_associated_data(state_hash: str) -> str:
    return f"oauth_states:{state_hash}:code_verifier"


async def add_state(
    session: AsyncSession,
    encryptor: Encryptor,
    principal: Principal,
    *,
    integration_id: str,
    state: str,
    code_verifier: str | None,
    redirect_uri: str,
) -> None:
    """Records an authorization `principal` started; only they can finish it, within STATE_LIFETIME."""
    state_hash = hash_token(state)
    states = OAuthStateRepository(session)
    now = utcnow()
    await states.delete_expired(principal.team_id, now)
    states.add(
        OAuthState(
            state_hash=state_hash,
            team_id=principal.team_id,
            user_id=principal.user_id,
            integration_id=integration_id,
            code_verifier_encrypted=(
                encryptor.encrypt(code_verifier, _verifier_associated_data(state_hash)) if code_verifier else None
            ),
            redirect_uri=redirect_uri,
            created_at=now,
            expires_at=now + STATE_LIFETIME,
        )
    )


def open_verifier(encryptor: Encryptor, pending: OAuthState) -> str | None:
    """The state's PKCE verifier; `DecryptionError` when the row was altered or its key is gone."""
    if pending.code_verifier_encrypted is None:
        return None
    return encryptor.decrypt(pending.code_verifier_encrypted, _verifier_associated_data(pending.state_hash))
