import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from platform_server.integrations.tokens import TokenManager
from tests.conftest import Member
from tests.integrations.test_tokens import _connect, _expire_soon, _token_calls


@pytest.fixture
def settings_overrides(redis_url: str) -> dict[str, Any]:
    return {"PLATFORM_SANDBOX": True, "REDIS_URL": redis_url}


async def test_redis_lock_serializes_refreshes_across_processes(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id = await _connect(app, client, owner, "linear")
    await _expire_soon(app, integration_id, timedelta(seconds=30))
    calls = _token_calls(app, "linear")
    state = app.state
    assert state.redis is not None
    other = TokenManager(state.settings, state.sessionmaker, state.encryptor, state.provider_http, state.redis)
    tokens = await asyncio.gather(*(m.access_token(integration_id) for m in [state.token_manager, other] * 4))
    assert len(set(tokens)) == 1
    assert _token_calls(app, "linear") == calls + 1
