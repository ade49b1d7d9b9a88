"""Conversations: stored per user, continued with history sent to the model, listed and paged."""

from typing import Any

import httpx

from platform_server.sandbox.model import SandboxModelStore
from platform_server.teams.models import Role
from tests.assistant.conftest import AddMember, ai_used, ask, ask_ok, stored_rows
from tests.conftest import Member
from tests.gateway.conftest import Enable
from tests.helpers import UNKNOWN_IDS, assert_error


def conversations_url(member: Member) -> str:
    return f"/api/workspaces/{member.workspace_id}/ai/conversations"


def history_url(member: Member, conversation_id: str) -> str:
    return f"{conversations_url(member)}/{conversation_id}/messages"


async def test_a_conversation_keeps_its_history(
    client: httpx.AsyncClient, owner: Member, enable: Enable, model: SandboxModelStore
) -> None:
    await enable(owner, "github", ["github_list_issues"])
    first = await ask_ok(client, owner, "Which issues are open?")
    conversation_id = first["conversationId"]

    second = await ask_ok(client, owner, "Thanks, and what else?", conversation_id)

    assert second["conversationId"] == conversation_id
    assert "I have 1 earlier messages from you" in second["reply"]
    # The earlier question and answer went to the model (their tool results are not resent).
    sent = model.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "Which issues are open?"
    assert sent[2]["content"] == first["reply"]

    response = await client.get(history_url(owner, conversation_id), headers=owner.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["pagination"] == {"page": 1, "limit": 20, "total": 4, "total_pages": 1}
    messages = page["data"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Which issues are open?"),
        ("assistant", first["reply"]),
        ("user", "Thanks, and what else?"),
        ("assistant", second["reply"]),
    ]
    assert messages[1]["id"] == first["messageId"]
    assert messages[0]["toolCalls"] == []
    [call] = messages[1]["toolCalls"]
    assert call == first["toolCalls"][0]
    assert all(m["conversationId"] == conversation_id and m["createdAt"].endswith("Z") for m in messages)

    paged = await client.get(history_url(owner, conversation_id), params={"limit": 3, "page": 2}, headers=owner.headers)
    assert [m["content"] for m in paged.json()["data"]] == [second["reply"]]
    assert paged.json()["pagination"]["total_pages"] == 2


async def test_conversations_are_listed_most_recent_first_and_private(
    app: Any, client: httpx.AsyncClient, owner: Member, add_member: AddMember
) -> None:
    older = await ask_ok(client, owner, "First   topic,\n with spaces")
    newer = await ask_ok(client, owner, "Second topic")
    await ask_ok(client, owner, "Back to the first", older["conversationId"])
    member = await add_member(owner, Role.admin)
    await ask_ok(client, member, "Mine")

    response = await client.get(conversations_url(owner), headers=owner.headers)

    assert response.status_code == 200, response.text
    listed = response.json()["data"]
    assert [c["id"] for c in listed] == [older["conversationId"], newer["conversationId"]]
    assert listed[0]["title"] == "First topic, with spaces"
    assert listed[0]["workspaceId"] == owner.workspace_id
    # Another member (even an admin) sees neither the list nor the messages, nor can continue it.
    theirs = await client.get(conversations_url(member), headers=member.headers)
    assert [c["title"] for c in theirs.json()["data"]] == ["Mine"]
    hidden = await client.get(history_url(member, older["conversationId"]), headers=member.headers)
    assert_error(hidden, 404, "NOT_FOUND")
    used = await ai_used(client, owner)
    rows = await stored_rows(app)
    assert_error(await ask(client, member, "Sneaky", older["conversationId"]), 404, "NOT_FOUND")
    assert await ai_used(client, owner) == used
    assert await stored_rows(app) == rows


async def test_unknown_and_other_teams_ids_are_not_found(
    client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    mine = await ask_ok(client, owner, "Hello")
    for unknown in UNKNOWN_IDS:
        response = await client.get(history_url(owner, unknown), headers=owner.headers)
        assert_error(response, 404, "NOT_FOUND")
        wrong_workspace = await client.get(f"/api/workspaces/{unknown}/ai/conversations", headers=owner.headers)
        assert_error(wrong_workspace, 404, "NOT_FOUND")
    assert_error(await client.get(conversations_url(other_team), headers=owner.headers), 404, "NOT_FOUND")
    foreign = await client.get(history_url(owner, mine["conversationId"]), headers=other_team.headers)
    assert_error(foreign, 404, "NOT_FOUND")
    assert_error(await client.get(conversations_url(owner)), 401, "UNAUTHORIZED")
    too_small = await client.get(conversations_url(owner), params={"limit": 0}, headers=owner.headers)
    assert_error(too_small, 422, "VALIDATION_ERROR")
