"""A workspace's defaultProject is checked against its provider's form when it is set, not when it is used."""

import json
from typing import Any

import httpx
import pytest

from platform_server.integrations.models import WorkspaceIntegration
from tests.conftest import Member, row_count
from tests.integrations.helpers import connect

NOTION_ID = "598337872cf94fdf8782e53db20768a5"

# provider → (values it must refuse, a valid value as typed, the form it is stored in, another valid value)
CASES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "github": (
        ("../..", "acme/..", "acme/.", "../../user/keys#", "acme", "acme/product/extra", "acme/pro?duct",
         "acme/product#x", "-acme/product", "acme/pro%2e%2e"),
        " acme/product.git ",
        "acme/product",
        "acme/website",
    ),
    "jira": (("PROJ/../X", "P", "PROJ-1", "1PROJ", "PROJECTKEY1X", "PR OJ", "%2e%2e"), "proj", "PROJ", "APP"),
    "linear": (("ENG/..", "ENG TEAM", "ENGINEERS", "..", "E#"), "eng", "ENG", "DES"),
    "notion": (("not-an-id", "../..", "1234", NOTION_ID + "/.."), f"https://www.notion.so/Roadmap-{NOTION_ID}",
               NOTION_ID, "598337872cf94fdf8782e53db20768a6"),
    "slack": (("a/b", "#", "general?x", "../general", "#General", "gen eral"), "#general", "#general", "C0000000001"),
    "figma": (("../1", "abc", "12/34", "1%2F2", "."), "1160000000000000001", "1160000000000000001", "42"),
}  # fmt: skip


def _url(member: Member, integration_id: str | None = None) -> str:
    base = f"/api/workspaces/{member.workspace_id}/integrations"
    return f"{base}/{integration_id}" if integration_id else base


async def _stored(client: httpx.AsyncClient, member: Member) -> list[Any]:
    listing = (await client.get(_url(member), headers=member.headers)).json()["integrations"]
    return [item["defaultProject"] for item in listing]


def _assert_refused(response: httpx.Response, value: str) -> None:
    assert response.status_code == 422, (value, response.text)
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith("defaultProject ")
    assert json.dumps(value) in error["message"]
    assert error["details"]["fields"][0]["field"] == "body.defaultProject"
    assert error["details"]["expected"]


@pytest.mark.parametrize("provider", list(CASES))
async def test_default_project_is_validated_per_provider_when_set(
    app: Any, client: httpx.AsyncClient, owner: Member, provider: str
) -> None:
    bad_values, typed, stored, other = CASES[provider]
    integration = await connect(client, owner, provider)

    for value in bad_values:
        response = await client.post(
            _url(owner), json={"integrationId": integration.id, "defaultProject": value}, headers=owner.headers
        )
        _assert_refused(response, value)
    assert await row_count(app, WorkspaceIntegration) == 0

    response = await client.post(
        _url(owner), json={"integrationId": integration.id, "defaultProject": typed}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    assert await _stored(client, owner) == [stored]

    for value in bad_values:
        patched = await client.patch(_url(owner, integration.id), json={"defaultProject": value}, headers=owner.headers)
        _assert_refused(patched, value)
        again = await client.post(
            _url(owner), json={"integrationId": integration.id, "defaultProject": value}, headers=owner.headers
        )
        _assert_refused(again, value)
    assert await _stored(client, owner) == [stored]

    # A change that leaves defaultProject out keeps the valid one; another valid one replaces it; null clears it.
    kept = await client.patch(_url(owner, integration.id), json={"enabled": False}, headers=owner.headers)
    assert kept.status_code == 200, kept.text
    assert kept.json()["defaultProject"] == stored
    replaced = await client.patch(_url(owner, integration.id), json={"defaultProject": other}, headers=owner.headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["defaultProject"] == other
    cleared = await client.patch(_url(owner, integration.id), json={"defaultProject": None}, headers=owner.headers)
    assert cleared.json()["defaultProject"] is None


async def test_a_stored_default_project_is_what_the_tools_use(client: httpx.AsyncClient, owner: Member) -> None:
    """The value is stored in the form the tools take: `acme/product.git` (a clone URL's tail) fills `repo`
    as acme/product."""
    integration = await connect(client, owner, "github")
    response = await client.post(
        _url(owner), json={"integrationId": integration.id, "defaultProject": "acme/product.git"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    called = await client.post(
        f"/api/workspaces/{owner.workspace_id}/tools/github_list_issues", json={"perPage": 1}, headers=owner.headers
    )
    assert called.status_code == 200, called.text
    assert called.json()["result"]["repo"] == "acme/product"
