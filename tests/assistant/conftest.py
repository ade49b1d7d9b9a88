"""Assistant fixtures: the app in sandbox mode, so the scripted sandbox model and simulated providers answer
over HTTP in-process; small monthly allowances so quota tests stay short."""

from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from platform_server.assistant.models import AiConversation, AiMessage
from platform_server.sandbox.model import SandboxModelStore, model_store
from tests.conftest import Member, row_count
from tests.gateway.conftest import enable, tool_calls

__all__ = ["enable", "tool_calls"]

AddMember = Callable[..., Coroutine[Any, Any, Member]]

FREE_LIMIT = 4
PRO_LIMIT = 2


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "PLATFORM_SANDBOX": True,
        "AI_MESSAGES_FREE_PER_TEAM": FREE_LIMIT,
        "AI_MESSAGES_PRO_PER_USER": PRO_LIMIT,
        "AI_MAX_STEPS": 3,
        "AI_TIMEOUT_SECONDS": 1.0,
    }


@pytest.fixture
def model(app: Any) -> SandboxModelStore:
    return model_store(app)


def messages_url(member: Member, workspace_id: str | None = None) -> str:
    return f"/api/workspaces/{workspace_id or member.workspace_id}/ai/messages"


async def ask(
    client: httpx.AsyncClient, member: Member, message: str, conversation_id: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"message": message}
    if conversation_id is not None:
        body["conversationId"] = conversation_id
    return await client.post(messages_url(member), json=body, headers=member.headers)


async def ask_ok(
    client: httpx.AsyncClient, member: Member, message: str, conversation_id: str | None = None
) -> dict[str, Any]:
    response = await ask(client, member, message, conversation_id)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ai_used(client: httpx.AsyncClient, member: Member) -> int:
    response = await client.get("/api/usage", headers=member.headers)
    assert response.status_code == 200, response.text
    used: int = response.json()["aiMessages"]["used"]
    return used


async def stored_rows(app: Any) -> tuple[int, int]:
    """(conversations, messages): what a refused or failed message must leave unchanged."""
    return await row_count(app, AiConversation), await row_count(app, AiMessage)
