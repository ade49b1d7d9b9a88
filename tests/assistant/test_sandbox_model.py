"""The sandbox model refuses what the Chat Completions API refuses, and labels every reply."""

from typing import Any

import httpx
import pytest

from platform_server.assistant.client import SANDBOX_MODEL_API_KEY, SANDBOX_MODEL_NAME
from platform_server.sandbox.model import LABEL

URL = "/sandbox/openai/v1/chat/completions"
AUTH = {"Authorization": f"Bearer {SANDBOX_MODEL_API_KEY}"}
HELLO = [{"role": "user", "content": "Hello"}]


async def test_answers_like_chat_completions(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json={"model": "m", "messages": HELLO}, headers=AUTH)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "m"
    [choice] = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"].startswith(LABEL)
    assert body["usage"]["total_tokens"] > 0
    models = await client.get("/sandbox/openai/v1/models", headers=AUTH)
    assert [m["id"] for m in models.json()["data"]] == [SANDBOX_MODEL_NAME]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"messages": HELLO}, 400, "model"),
        ({"model": "m", "messages": []}, 400, "messages"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, 400, "role"),
        ({"model": "m", "messages": HELLO, "tool_choice": "auto"}, 400, "tool_choice"),
        ({"model": "m", "messages": HELLO, "tools": []}, 400, "tools"),
        ({"model": "m", "messages": [*HELLO, {"role": "tool", "tool_call_id": "x", "content": "{}"}]}, 400, "tool"),
    ],
)
async def test_refuses_bad_requests(client: httpx.AsyncClient, body: dict[str, Any], status: int, needle: str) -> None:
    response = await client.post(URL, json=body, headers=AUTH)

    assert response.status_code == status
    assert needle in response.json()["error"]["message"]


async def test_refuses_a_missing_key_and_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    missing = await client.post(URL, json={"model": "m", "messages": HELLO})
    assert missing.status_code == 401
    assert "API key" in missing.json()["error"]["message"]
    not_json = await client.post(URL, content=b"{oops", headers={**AUTH, "content-type": "application/json"})
    assert not_json.status_code == 400
