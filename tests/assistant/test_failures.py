"""Model timeouts and errors: a clear error, the AI message given back, nothing of the turn stored."""

from typing import Any

import httpx

from tests.assistant.conftest import ai_used, ask, ask_ok, stored_rows
from tests.conftest import Member
from tests.gateway.conftest import Enable, tool_calls
from tests.helpers import assert_error


async def test_a_model_timeout_is_refunded_and_stores_nothing(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    response = await ask(client, owner, "[sandbox:timeout=60] Hello?")

    error = assert_error(response, 504, "AI_MODEL_TIMEOUT")
    assert "AI_TIMEOUT_SECONDS" in error["message"]
    assert error["details"] == {"timeoutSeconds": 1.0}
    assert await ai_used(client, owner) == 0
    assert await stored_rows(app) == (0, 0)
    # The next message goes through and is the month's first.
    assert (await ask_ok(client, owner, "Hello again"))["usage"]["used"] == 1


async def test_a_model_5xx_is_refunded_and_stores_nothing(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    first = await ask_ok(client, owner, "Hello")

    response = await ask(client, owner, "[sandbox:error=503] Hello?", first["conversationId"])

    error = assert_error(response, 502, "AI_MODEL_ERROR")
    assert "HTTP 503" in error["message"]
    assert error["details"]["status"] == 503
    assert "Simulated error 503" in error["details"]["modelMessage"]
    assert await ai_used(client, owner) == 1
    assert await stored_rows(app) == (1, 2)


async def test_a_failure_after_a_tool_call_keeps_the_audit_but_not_the_turn(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_issues"])
    first = await ask_ok(client, owner, "Hello")

    response = await ask(client, owner, "[sandbox:error-after-tool=500] list the issues", first["conversationId"])

    assert_error(response, 502, "AI_MODEL_ERROR")
    assert await ai_used(client, owner) == 1
    assert await stored_rows(app) == (1, 2)
    # The tool did run (and that cannot be undone), so its audit row stays.
    [audited] = await tool_calls(client, owner)
    assert (audited["tool"], audited["channel"], audited["outcome"]) == ("github_list_issues", "assistant", "success")
    messages = await client.get(
        f"/api/workspaces/{owner.workspace_id}/ai/conversations/{first['conversationId']}/messages",
        headers=owner.headers,
    )
    assert next(m["content"] for m in messages.json()["data"]) == "Hello"
    assert messages.json()["pagination"]["total"] == 2
