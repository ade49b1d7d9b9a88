"""Deleting an integration ends its grant at the provider: every token it holds is refused afterwards."""

from datetime import timedelta
from typing import Any

import httpx
import pytest

from platform_server.db import utcnow
from platform_server.integrations.models import Integration
from platform_server.sandbox.store import Grant, SandboxStore
from tests.conftest import Member
from tests.integrations.helpers import connect

TOKEN_URLS = {"linear": "/sandbox/linear/oauth/token", "slack": "/sandbox/slack/api/oauth.v2.access"}


def grant_of(store: SandboxStore, provider: str) -> Grant:
    (grant,) = {
        record.grant.id: record.grant for record in store.access_tokens.values() if record.grant.provider == provider
    }.values()
    return grant


async def refresh_refused(client: httpx.AsyncClient, provider: str, refresh_token: str) -> bool:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": f"sandbox-{provider}",
        "client_secret": f"sandbox-secret-{provider}",
    }
    response = await client.post(TOKEN_URLS[provider], data=form)
    return response.status_code >= 400 or response.json().get("ok") is False


async def expire_everywhere(app: Any, integration_id: str) -> None:
    """Time passes: the provider and the stored integration both see every access token as expired."""
    store = app.state.sandbox
    for record in store.access_tokens.values():
        record.expires_at = 0
    async with app.state.sessionmaker() as session, session.begin():
        integration = await session.get(Integration, integration_id)
        assert integration is not None
        integration.token_expires_at = utcnow() - timedelta(minutes=1)
        if integration.user_token_expires_at is not None:
            integration.user_token_expires_at = utcnow() - timedelta(minutes=1)


@pytest.mark.parametrize("provider", ["linear", "slack"])
@pytest.mark.parametrize("expired", [False, True], ids=["live", "expired"])
async def test_deleting_ends_every_token_of_the_grant(
    app: Any, client: httpx.AsyncClient, owner: Member, provider: str, expired: bool
) -> None:
    store: SandboxStore = app.state.sandbox
    # Slack rotates tokens only with token rotation on; Linear always issues refresh tokens.
    store.faults.token_lifetime_seconds = 43_200
    authorization = await connect(client, owner, provider)
    grant = grant_of(store, provider)
    kinds = {record.kind for record in store.access_tokens.values() if record.grant is grant}
    assert kinds == ({"bot", "user"} if provider == "slack" else {"access"})
    if expired:
        await expire_everywhere(app, authorization.id)

    response = await client.delete(f"/api/integrations/{authorization.id}", headers=owner.headers)
    assert response.status_code == 200, response.text

    # Every token the provider issued under this consent is refused, including any refreshed on the way.
    access_tokens = [record.token for record in store.access_tokens.values() if record.grant is grant]
    assert {store.authenticate(provider, token)[1] for token in access_tokens} == {"revoked"}
    current_refresh_tokens = [
        record.token for record in store.refresh_tokens.values() if record.grant is grant and not record.used
    ]
    assert len(current_refresh_tokens) >= len(kinds)
    for token in current_refresh_tokens:
        assert await refresh_refused(client, provider, token)
