"""Property-based: valid create/update inputs round-trip exactly; invalid ones answer 422 and change nothing."""

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platform_server.models import Feature, WorkItem, Workspace
from tests.conftest import Member, row_count


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Hundreds of requests from one key in a few seconds; the per-minute limit is tested in tests/limits.
    return {"RATE_LIMIT_ENABLED": False}


PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    # The app and team fixtures are shared by every example on purpose: each example checks only its own rows.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# Any text PostgreSQL and JSON can carry: no NUL, no lone surrogates.
def text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), min_size=min_size, max_size=max_size
    )


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


PRIORITIES = st.sampled_from(["none", "low", "medium", "high", "urgent"])
FEATURE_STATUSES = st.sampled_from(["backlog", "planned", "in_progress", "done", "canceled"])
WORK_ITEM_STATUSES = st.sampled_from(["todo", "in_progress", "in_review", "done", "canceled"])

workspace_fields = st.fixed_dictionaries({"name": text(1, 200)}, optional={"description": optional(text(0, 10_000))})
workspace_patch = st.fixed_dictionaries({}, optional={"name": text(1, 200), "description": optional(text(0, 300))})

feature_fields = st.fixed_dictionaries(
    {"title": text(1, 500)},
    optional={
        "description": optional(text(0, 2000)),
        "status": FEATURE_STATUSES,
        "priority": PRIORITIES,
        "url": optional(text(0, 2000)),
    },
)
feature_patch = st.fixed_dictionaries(
    {},
    optional={
        "title": text(1, 500),
        "description": optional(text(0, 300)),
        "status": FEATURE_STATUSES,
        "priority": PRIORITIES,
        "url": optional(text(0, 300)),
    },
)
work_item_fields = st.fixed_dictionaries(
    {"title": text(1, 500)},
    optional={
        "description": optional(text(0, 2000)),
        "status": WORK_ITEM_STATUSES,
        "priority": PRIORITIES,
        "labels": st.lists(text(1, 100), max_size=50),
        "assignee": optional(text(0, 255)),
        "url": optional(text(0, 2000)),
    },
)
work_item_patch = st.fixed_dictionaries(
    {},
    optional={
        "title": text(1, 500),
        "status": WORK_ITEM_STATUSES,
        "labels": st.lists(text(1, 100), max_size=5),
        "assignee": optional(text(0, 255)),
    },
)

# Values no field accepts as-is, and one that no schema knows.
JUNK = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(), min_size=1),
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1),
)


def invalid_variant(valid: st.SearchStrategy[dict[str, Any]], fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body with one field broken: a junk value, an overlong string, or an unknown key."""

    def breaks(body: dict[str, Any], field: str, how: str, junk: Any) -> dict[str, Any]:
        if how == "unknown":
            return {**body, "unexpectedField": junk}
        if how == "long":
            return {**body, field: "x" * 100_001}
        return {**body, field: junk}

    return st.builds(breaks, valid, st.sampled_from(fields), st.sampled_from(["junk", "long", "unknown"]), JUNK)


RESOURCES = {
    "workspaces": ("/api/workspaces", Workspace, workspace_fields, workspace_patch, ["name", "description"]),
    "features": ("/api/features", Feature, feature_fields, feature_patch, ["title", "description", "url"]),
    "work-items": (
        "/api/work-items",
        WorkItem,
        work_item_fields,
        work_item_patch,
        ["title", "labels", "assignee", "url"],
    ),
}


def _body(resource: str, member: Member, fields: dict[str, Any]) -> dict[str, Any]:
    return fields if resource == "workspaces" else {"workspaceId": member.workspace_id, **fields}


async def _check_round_trip(
    client: httpx.AsyncClient, owner: Member, resource: str, fields: dict[str, Any], patch: dict[str, Any]
) -> None:
    path = RESOURCES[resource][0]
    body = _body(resource, owner, fields)
    created = await client.post(path, json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    for key, value in body.items():
        assert created.json()[key] == value
    url = f"{path}/{created.json()['id']}"
    assert (await client.get(url, headers=owner.headers)).json() == created.json()
    updated = await client.patch(url, json=patch, headers=owner.headers)
    assert updated.status_code == 200, updated.text
    expected = {**created.json(), **patch}
    assert {k: v for k, v in updated.json().items() if k != "updatedAt"} == {
        k: v for k, v in expected.items() if k != "updatedAt"
    }
    assert (await client.get(url, headers=owner.headers)).json() == updated.json()
    assert (await client.delete(url, headers=owner.headers)).status_code == 200


async def _check_refused(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    resource: str,
    bad_create: dict[str, Any],
    bad_patch: dict[str, Any],
) -> None:
    path, model = RESOURCES[resource][:2]
    before = await row_count(app, model)
    response = await client.post(path, json=_body(resource, owner, bad_create), headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await row_count(app, model) == before
    target = owner.workspace_id if resource == "workspaces" else None
    if target is None:
        fields = {"title": "Target"}
        target = (await client.post(path, json=_body(resource, owner, fields), headers=owner.headers)).json()["id"]
    original = (await client.get(f"{path}/{target}", headers=owner.headers)).json()
    response = await client.patch(f"{path}/{target}", json=bad_patch, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert (await client.get(f"{path}/{target}", headers=owner.headers)).json() == original


@PROPERTY_SETTINGS
@given(fields=workspace_fields, patch=workspace_patch)
async def test_workspace_round_trip(client: httpx.AsyncClient, owner: Member, fields: Any, patch: Any) -> None:
    await _check_round_trip(client, owner, "workspaces", fields, patch)


@PROPERTY_SETTINGS
@given(fields=feature_fields, patch=feature_patch)
async def test_feature_round_trip(client: httpx.AsyncClient, owner: Member, fields: Any, patch: Any) -> None:
    await _check_round_trip(client, owner, "features", fields, patch)


@PROPERTY_SETTINGS
@given(fields=work_item_fields, patch=work_item_patch)
async def test_work_item_round_trip(client: httpx.AsyncClient, owner: Member, fields: Any, patch: Any) -> None:
    await _check_round_trip(client, owner, "work-items", fields, patch)


@PROPERTY_SETTINGS
@given(
    resource=st.sampled_from(list(RESOURCES)),
    data=st.data(),
)
async def test_invalid_inputs_are_refused(
    app: Any, client: httpx.AsyncClient, owner: Member, resource: str, data: st.DataObject
) -> None:
    _, _, create_fields, patch_fields, breakable = RESOURCES[resource]
    bad_create = data.draw(invalid_variant(create_fields, breakable))
    bad_patch = data.draw(invalid_variant(patch_fields, breakable))
    await _check_refused(app, client, owner, resource, bad_create, bad_patch)
