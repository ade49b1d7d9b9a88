"""Provider webhooks are registered upstream (in the sandbox) when an integration is enabled with a project,
follow defaultProject changes, and are deleted upstream with the integration."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from platform_server.integrations.models import PushWebhook
from platform_server.sandbox.webhooks import SandboxHook
from tests.conftest import Member, row_count
from tests.integrations.helpers import connect
from tests.sync_triggers.helpers import PROJECTS, connect_with_push, enable, push_webhooks, stored_secret


def _hooks(app: Any, provider: str) -> list[SandboxHook]:
    return [hook for hook in app.state.sandbox.webhooks.hooks.values() if hook.provider == provider]


async def _delete(client: httpx.AsyncClient, member: Member, integration_id: str) -> None:
    response = await client.delete(f"/api/integrations/{integration_id}", headers=member.headers)
    assert response.status_code == 200, response.text


async def test_github_repository_hook_created_with_an_encrypted_secret_and_deleted_with_the_integration(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id, _ = await connect_with_push(client, owner, "github")
    (webhook,) = await push_webhooks(app, integration_id)
    (hook,) = _hooks(app, "github")
    assert (webhook.status, webhook.target, webhook.external_id) == ("active", "acme/product", str(hook.id))
    assert hook.url == "http://testserver/api/webhooks/github"
    assert hook.events == ["issues", "pull_request"]
    assert hook.secret is not None
    assert hook.secret not in (webhook.secret_encrypted or "")
    assert stored_secret(app, webhook) == hook.secret

    await _delete(client, owner, integration_id)
    assert _hooks(app, "github") == []
    assert await row_count(app, PushWebhook) == 0


async def test_github_hook_follows_the_default_project(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id, _ = await connect_with_push(client, owner, "github")
    response = await client.patch(
        f"/api/workspaces/{owner.workspace_id}/integrations/{integration_id}",
        json={"defaultProject": "acme/website"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    (webhook,) = await push_webhooks(app, integration_id)
    (hook,) = _hooks(app, "github")
    assert (webhook.target, hook.target, webhook.external_id) == ("acme/website", "acme/website", str(hook.id))

    disabled = await client.delete(
        f"/api/workspaces/{owner.workspace_id}/integrations/{integration_id}", headers=owner.headers
    )
    assert disabled.status_code == 200
    assert _hooks(app, "github") == []
    assert await push_webhooks(app, integration_id) == []


async def test_linear_webhook_for_all_public_teams_with_the_admin_scope(
    app: Any, client: httpx.AsyncClient, owner: Member
) -> None:
    integration_id, _ = await connect_with_push(client, owner, "linear")
    (webhook,) = await push_webhooks(app, integration_id)
    (hook,) = _hooks(app, "linear")
    assert (webhook.status, webhook.target) == ("active", "all-public-teams")
    assert (hook.target, hook.events, hook.url) == ("*", ["Issue"], "http://testserver/api/webhooks/linear")
    assert stored_secret(app, webhook) == hook.secret

    await _delete(client, owner, integration_id)
    assert _hooks(app, "linear") == []


async def test_jira_dynamic_webhook_for_the_project(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    integration_id, _ = await connect_with_push(client, owner, "jira")
    (webhook,) = await push_webhooks(app, integration_id)
    (hook,) = _hooks(app, "jira")
    assert (webhook.status, webhook.target, webhook.external_id) == ("active", "PROJ", str(hook.id))
    # Jira signs with the app's client secret: nothing of ours to store.
    assert webhook.secret_encrypted is None
    assert hook.events == ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted"]
    assert webhook.expires_at is not None
    assert webhook.expires_at > datetime.now(UTC) + timedelta(days=29)

    await _delete(client, owner, integration_id)
    assert _hooks(app, "jira") == []


@pytest.mark.parametrize(
    ("provider", "login", "reason"),
    [
        # A user without admin rights on the repository: GitHub hides its hooks (404).
        ("github", "acme-reader", "404"),
        # Connected with the default scopes, which do not let Platform register webhooks.
        ("linear", None, "admin scope"),
        ("jira", None, "manage:jira-webhook"),
    ],
)
async def test_a_refused_registration_is_recorded_not_fatal(
    app: Any, client: httpx.AsyncClient, owner: Member, provider: str, login: str | None, reason: str
) -> None:
    authorization = await connect(client, owner, provider, login=login)
    await enable(client, owner, authorization.id, PROJECTS[provider])
    (webhook,) = await push_webhooks(app, authorization.id)
    assert webhook.status == "unavailable"
    assert webhook.status_reason
    assert reason in webhook.status_reason
    assert webhook.secret_encrypted is None
    assert _hooks(app, provider) == []
