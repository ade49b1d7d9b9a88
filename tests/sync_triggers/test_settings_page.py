"""The settings page: the scheduled sync field of a workspace integration, and its push update status."""

from typing import Any

import httpx
import pytest

from tests.conftest import Member
from tests.integrations.helpers import connect
from tests.sync_triggers.helpers import connect_with_push, enable, push_webhooks, stored_secret
from tests.web.helpers import sign_in


async def _listed(client: httpx.AsyncClient, member: Member) -> dict[str, Any]:
    response = await client.get(f"/api/workspaces/{member.workspace_id}/integrations", headers=member.headers)
    (item,) = response.json()["integrations"]
    return dict(item)


async def test_schedule_set_and_cleared_on_the_page(client: httpx.AsyncClient, owner: Member) -> None:
    github = await connect(client, owner, "github")
    token = await sign_in(client, owner)
    path = f"/settings/workspaces/{owner.workspace_id}/integrations/{github.id}"
    saved = await client.post(path, data={"csrf_token": token, "sync_interval_minutes": "120"})
    assert saved.status_code == 303, saved.text
    assert (await _listed(client, owner))["syncIntervalMinutes"] == 120
    page = await client.get(saved.headers["location"])
    assert 'name="sync_interval_minutes"' in page.text
    assert 'value="120"' in page.text
    assert "Next run:" in page.text

    cleared = await client.post(path, data={"csrf_token": token, "sync_interval_minutes": ""})
    assert cleared.status_code == 303
    assert (await _listed(client, owner))["syncIntervalMinutes"] is None


@pytest.mark.parametrize("value", ["4", "10081", "ten", "1.5", "-30", "9999999999"])
async def test_bad_schedule_on_the_page_changes_nothing(client: httpx.AsyncClient, owner: Member, value: str) -> None:
    github = await connect(client, owner, "github")
    token = await sign_in(client, owner)
    path = f"/settings/workspaces/{owner.workspace_id}/integrations/{github.id}"
    assert (await client.post(path, data={"csrf_token": token, "sync_interval_minutes": "60"})).status_code == 303
    refused = await client.post(path, data={"csrf_token": token, "sync_interval_minutes": value})
    assert refused.status_code == 422
    assert "not valid" in refused.text or "whole number of minutes" in refused.text
    assert (await _listed(client, owner))["syncIntervalMinutes"] == 60


async def test_push_status_is_shown(client: httpx.AsyncClient, owner: Member) -> None:
    await connect_with_push(client, owner, "github")
    linear = await connect(client, owner, "linear")
    await enable(client, owner, linear.id, "ENG")
    await sign_in(client, owner)
    page = await client.get("/settings/integrations")
    assert page.status_code == 200
    assert "Push updates" in page.text
    assert "<code>acme/product</code>:" in page.text
    assert "active" in page.text
    assert "not available" in page.text
    assert "needs the admin scope" in page.text


async def test_a_webhook_set_up_by_hand_on_the_page_shows_its_secret_once(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    linear = await connect(client, owner, "linear")
    await enable(client, owner, linear.id, "ENG")
    (webhook,) = await push_webhooks(app, linear.id)
    token = await sign_in(client, owner)
    path = f"/settings/integrations/{linear.id}/push-webhooks/{webhook.id}/manual-setup"
    assert f'action="{path}"' in (await client.get("/settings/integrations")).text

    shown = await client.post(path, data={"csrf_token": token})
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    (stored,) = await push_webhooks(app, linear.id)
    secret = stored_secret(app, stored)
    assert f"secret {secret}" in shown.text
    assert "http://testserver/api/webhooks/linear" in shown.text
    assert "set up by hand" in shown.text

    again = await client.get("/settings/integrations")
    assert secret not in again.text
    assert "set up by hand" in again.text
    refused = await client.post(path, data={"csrf_token": "not-the-token"})
    assert refused.status_code == 403
    (unchanged,) = await push_webhooks(app, linear.id)
    assert stored_secret(app, unchanged) == secret
