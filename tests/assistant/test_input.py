"""Bad input to POST .../ai/messages: refused before the model, with nothing used and nothing stored."""

from typing import Any

import httpx
import pytest

from tests.assistant.conftest import ai_used, ask, ask_ok, messages_url, stored_rows
from tests.conftest import Member
from tests.helpers import UNKNOWN_IDS, assert_error, failing_fields


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"message": 123}, "message"),
        ({"message": ["hi"]}, "message"),
        ({"message": ""}, "message"),
        ({"message": "x" * 8001}, "message"),
        ({"message": "nul \x00 byte"}, "message"),
        ({"message": "hi", "conversationId": "abc"}, "conversationId"),
        ({"message": "hi", "conversationId": 42}, "conversationId"),
        ({"message": "hi", "model": "gpt-5"}, "model"),
    ],
)
async def test_invalid_bodies_are_refused(
    app: Any, client: httpx.AsyncClient, owner: Member, body: dict[str, Any], field: str
) -> None:
    response = await client.post(messages_url(owner), json=body, headers=owner.headers)

    assert f"body.{field}" in failing_fields(response)
    assert await ai_used(client, owner) == 0
    assert await stored_rows(app) == (0, 0)


async def test_malformed_json_and_auth(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    headers = {**owner.headers, "content-type": "application/json"}
    assert_error(await client.post(messages_url(owner), content=b"{nope", headers=headers), 400, "BAD_REQUEST")
    assert_error(await client.post(messages_url(owner), json={"message": "hi"}), 401, "UNAUTHORIZED")
    bad_key = {"Authorization": "Bearer plat_not_a_key"}
    assert_error(await client.post(messages_url(owner), json={"message": "hi"}, headers=bad_key), 401, "UNAUTHORIZED")
    assert await ai_used(client, owner) == 0
    assert await stored_rows(app) == (0, 0)


async def test_unknown_and_other_teams_workspaces_and_conversations(
    app: Any, client: httpx.AsyncClient, owner: Member, other_team: Member
) -> None:
    theirs = await ask_ok(client, other_team, "Hello")
    before = await stored_rows(app)
    for unknown in UNKNOWN_IDS:
        response = await client.post(messages_url(owner, unknown), json={"message": "hi"}, headers=owner.headers)
        assert_error(response, 404, "NOT_FOUND")
    assert_error(await ask(client, owner, "hi", "1234567890123456789"), 404, "NOT_FOUND")
    # Another team's workspace, and another team's conversation in my workspace.
    foreign = await client.post(messages_url(other_team), json={"message": "hi"}, headers=owner.headers)
    assert_error(foreign, 404, "NOT_FOUND")
    assert_error(await ask(client, owner, "hi", theirs["conversationId"]), 404, "NOT_FOUND")
    assert await ai_used(client, owner) == 0
    assert await ai_used(client, other_team) == 1
    assert await stored_rows(app) == before
