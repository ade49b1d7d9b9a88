"""What a model reads: error results a validating client accepts, and text free of Python reprs and of the
sandbox's own paths."""

from typing import Any

import httpx
import pytest

from platform_server.gateway.executor import CATALOG, ERROR_META_KEY
from platform_server.integrations.providers.github.api import API as GITHUB_API
from tests.conftest import Member
from tests.gateway.conftest import Enable
from tests.gateway.test_transport import ACCEPT, LEGACY, modern_headers, modern_request, url

ADDITIVE = (
    "github_create_issue",
    "jira_create_issue",
    "linear_create_issue",
    "notion_create_page",
    "slack_send_message",
)


async def call(
    client: httpx.AsyncClient, member: Member, generation: str, name: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """A raw `tools/call` in either protocol generation; answers the JSON-RPC result."""
    params = {"name": name, "arguments": arguments}
    if generation == "modern":
        body, headers = modern_request("tools/call", params), modern_headers(member, "tools/call", name)
    else:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        headers = {"Accept": ACCEPT, "MCP-Protocol-Version": LEGACY, **member.headers}
    response = await client.post(url(member.workspace_id), json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


@pytest.mark.parametrize("generation", ["modern", "legacy"])
async def test_error_result_has_no_structured_content(
    client: httpx.AsyncClient, owner: Member, enable: Enable, generation: str
) -> None:
    await enable(owner, "github", ["github_list_repos"])
    result = await call(client, owner, generation, "github_list_issues", {"repo": "acme/product"})
    assert result["isError"] is True
    # The tool declares an output schema for its success; an error must not claim to match it.
    assert "structuredContent" not in result
    [block] = result["content"]
    assert block["type"] == "text"
    assert "not enabled for this workspace" in block["text"]
    assert result["_meta"][ERROR_META_KEY] == {"error": "TOOL_NOT_ENABLED"}


@pytest.mark.parametrize("generation", ["modern", "legacy"])
async def test_invalid_arguments_are_described_in_json_terms(
    client: httpx.AsyncClient, owner: Member, enable: Enable, generation: str
) -> None:
    await enable(owner, "github")
    arguments = {"repo": None, "state": "sideways", "perPage": True, "extra": 1}
    result = await call(client, owner, generation, "github_list_issues", arguments)
    text = result["content"][0]["text"]
    assert "repo: null is not of type string" in text
    assert 'state: "sideways" is not one of "open", "closed", "all"' in text
    assert "perPage: true is not of type integer" in text
    assert 'unexpected "extra"' in text
    for python in ("None", "True", "'sideways'", "'extra'"):
        assert python not in text
    errors = result["_meta"][ERROR_META_KEY]["errors"]
    assert "repo: null is not of type string" in errors


async def test_provider_not_found_names_the_providers_path(
    client: httpx.AsyncClient, owner: Member, enable: Enable
) -> None:
    await enable(owner, "github")
    result = await call(client, owner, "modern", "github_list_issues", {"repo": "acme/does-not-exist"})
    text = result["content"][0]["text"]
    assert "GitHub found nothing at /repos/acme/does-not-exist/issues" in text
    assert "/sandbox" not in text


async def test_default_project_is_quoted_as_json(client: httpx.AsyncClient, owner: Member, enable: Enable) -> None:
    await enable(owner, "github", ["github_list_issues"], default_project="acme/product")
    response = await client.post(
        url(owner.workspace_id), json=modern_request("tools/list"), headers=modern_headers(owner, "tools/list")
    )
    [tool] = response.json()["result"]["tools"]
    description = tool["inputSchema"]["properties"]["repo"]["description"]
    assert description.endswith('Defaults to this workspace\'s project "acme/product".')


def test_github_error_without_a_message_names_what_it_has() -> None:
    data = {"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "custom"}, {"field": "title"}]}
    assert GITHUB_API.error_message(data) == "Validation Failed; custom; title"


def test_additive_tools_are_not_destructive() -> None:
    for name, tool in CATALOG.items():
        hints = tool.mcp_tool.annotations
        assert hints is not None
        if name in ADDITIVE:
            assert (hints.read_only_hint, hints.destructive_hint) == (False, False), name
    # A transition changes an issue's existing state: that one stays marked.
    transition = CATALOG["jira_transition_issue"].mcp_tool.annotations
    assert transition is not None
    assert transition.destructive_hint is True
