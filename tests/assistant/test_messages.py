"""Messages against the sandbox model over HTTP: no tool, a tool answered from its result, a disabled tool,
the step limit, and what the conversation and the audit keep."""

from typing import Any

import httpx

from platform_server.assistant.client import SANDBOX_MODEL_NAME
from platform_server.sandbox.model import SandboxModelStore
from tests.assistant.conftest import FREE_LIMIT, ai_used, ask_ok, stored_rows
from tests.conftest import Member
from tests.gateway.conftest import Enable, tool_calls


async def test_a_message_that_needs_no_tool(
    app: Any, client: httpx.AsyncClient, owner: Member, model: SandboxModelStore
) -> None:
    body = await ask_ok(client, owner, "Hello, what can you do?")

    assert body["reply"].startswith("[Sandbox model] You said: 'Hello, what can you do?'")
    assert "these tools: none" in body["reply"]
    assert body["toolCalls"] == []
    assert body["model"] == SANDBOX_MODEL_NAME
    assert body["steps"] == 1
    assert body["stepLimitReached"] is False
    usage = body["usage"]
    assert (usage["used"], usage["limit"], usage["scope"]) == (1, FREE_LIMIT, "team")
    assert usage["resetsAt"].endswith("-01T00:00:00Z")
    assert await ai_used(client, owner) == 1
    assert await stored_rows(app) == (1, 2)
    # Nothing enabled: no tools offered at all (the API refuses an empty list), and no tool_choice either.
    sent = model.requests[-1]
    assert "tools" not in sent
    assert "tool_choice" not in sent
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]


async def test_issues_are_listed_with_the_tool_and_answered_from_its_result(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable, model: SandboxModelStore
) -> None:
    await enable(owner, "github", ["github_list_issues", "github_list_repos"])
    await enable(owner, "slack", ["slack_list_channels"])
    direct = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_list_issues",
        json={"repo": "acme/product"},
        headers=owner.headers,
    )
    titles = [issue["title"] for issue in direct.json()["result"]["issues"][:10]]
    assert titles

    body = await ask_ok(client, owner, "Which issues are open right now?")

    assert body["reply"].startswith("[Sandbox model] acme/product has ")
    for title in titles:
        assert title in body["reply"]
    [call] = body["toolCalls"]
    assert call["name"] == "github_list_issues"
    assert call["arguments"] == {"repo": "acme/product"}
    assert call["outcome"] == "success"
    assert call["errorCode"] is None
    assert isinstance(call["durationMs"], int)
    assert body["steps"] == 2
    # The model was offered exactly the workspace's enabled tools, with their JSON Schemas.
    offered = model.requests[0]["tools"]
    assert [tool["function"]["name"] for tool in offered] == [
        "github_list_issues",
        "github_list_repos",
        "slack_list_channels",
    ]
    assert offered[0]["function"]["parameters"]["required"] == ["repo"]
    assert model.requests[0]["tool_choice"] == "auto"
    # The result went back to the model as a tool message answering its call.
    second = model.requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "github_list_issues"
    assert second[-1]["role"] == "tool"
    assert titles[0] in second[-1]["content"]
    # Audited by the gateway's executor, as the assistant's channel.
    audited, rest = await tool_calls(client, owner, tool="github_list_issues")  # newest first
    assert rest["channel"] == "rest"
    assert audited["id"] == call["toolCallId"]
    assert (audited["channel"], audited["outcome"], audited["argumentNames"]) == ("assistant", "success", ["repo"])
    assert audited["userId"] == owner.user_id


async def test_the_workspace_default_project_fills_the_repository(
    client: httpx.AsyncClient, owner: Member, enable: Enable, model: SandboxModelStore
) -> None:
    await enable(owner, "github", ["github_list_issues"], default_project="acme/product")

    body = await ask_ok(client, owner, "Any issues?")

    [call] = body["toolCalls"]
    assert call["arguments"] == {}
    assert call["outcome"] == "success"
    assert "acme/product has" in body["reply"]
    assert "repo" not in model.requests[0]["tools"][0]["function"]["parameters"]["required"]


async def test_a_disabled_tool_requested_by_the_model_is_refused_and_reported(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_issues"])
    await enable(owner, "slack", ["slack_list_channels"])

    body = await ask_ok(
        client, owner, 'Post it. [sandbox:call=slack_send_message] {"channel": "general", "text": "Hello"}'
    )

    [call] = body["toolCalls"]
    assert call["name"] == "slack_send_message"
    assert call["arguments"] == {"channel": "general", "text": "Hello"}
    assert (call["outcome"], call["errorCode"]) == ("rejected", "TOOL_NOT_ENABLED")
    assert "could not run (TOOL_NOT_ENABLED)" in body["reply"]
    assert "not enabled for this workspace" in body["reply"]
    assert app.state.sandbox.count("slack", "POST", "/api/chat.postMessage") == 0
    [audited] = await tool_calls(client, owner, tool="slack_send_message")
    assert (audited["channel"], audited["outcome"], audited["errorCode"]) == (
        "assistant",
        "rejected",
        "TOOL_NOT_ENABLED",
    )
    # The refusal is part of a delivered answer: the message counts.
    assert body["usage"]["used"] == 1


async def test_invalid_arguments_from_the_model_are_reported_back(
    client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_issues"])

    body = await ask_ok(client, owner, '[sandbox:call=github_list_issues] {"repo": "not a repo", "state": "sideways"}')

    [call] = body["toolCalls"]
    assert (call["outcome"], call["errorCode"]) == ("rejected", "INVALID_ARGUMENTS")
    assert "could not run (INVALID_ARGUMENTS)" in body["reply"]


async def test_the_step_limit_stops_a_model_that_keeps_calling_tools(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable, model: SandboxModelStore
) -> None:
    await enable(owner, "github", ["github_list_issues"])

    body = await ask_ok(client, owner, "[sandbox:loop] list the issues, again and again")

    # AI_MAX_STEPS=3: two steps with tool calls, then a last step where the model may only answer.
    assert body["steps"] == 3
    assert [call["name"] for call in body["toolCalls"]] == ["github_list_issues"] * 2
    assert body["stepLimitReached"] is True
    assert "I stopped after 2 tool calls" in body["reply"]
    assert [request["tool_choice"] for request in model.requests] == ["auto", "auto", "none"]
    assert app.state.sandbox.count("github", "GET", "/repos/{owner}/{repo}/issues") == 2


async def test_tool_calls_asked_for_after_the_last_step_are_not_run(
    app: Any, client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github", ["github_list_issues"])

    body = await ask_ok(client, owner, "[sandbox:loop=stubborn] list the issues forever")

    assert body["steps"] == 3
    assert len(body["toolCalls"]) == 2
    assert body["stepLimitReached"] is True
    assert "could not finish within 3 steps" in body["reply"]
    assert app.state.sandbox.count("github", "GET", "/repos/{owner}/{repo}/issues") == 2
    assert len(await tool_calls(client, owner)) == 2
