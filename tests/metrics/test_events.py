"""What each event leaves in /metrics, read back through the exposition: requests by route template, tool
calls through the sandbox GitHub tool, sync runs, Stripe webhooks and token refreshes."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from platform_server.db import utcnow
from platform_server.integrations.models import Integration
from platform_server.integrations.providers.client import IntegrationExpired, ProviderUnavailable
from platform_server.metrics.registry import UNMATCHED_ROUTE
from platform_server.security import Encryptor
from tests.billing.conftest import STRIPE_SECRET, post_stripe, subscription_event
from tests.conftest import TEST_SECRET_KEY, Member
from tests.email.conftest import RESEND_WEBHOOK_SECRET, post_resend, resend_event
from tests.gateway.conftest import mcp_client
from tests.metrics.helpers import delta, label_values, scrape, value
from tests.sync.helpers import connect_and_enable, sync

WORKSPACE_ROUTE = "/api/workspaces/{workspace_id}"
TOOL_ROUTE = "/api/workspaces/{workspace_id}/tools/{tool_name}"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"METRICS_ENABLED": True, "PLATFORM_SANDBOX": True, "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET}


class TestRequests:
    async def test_counted_by_route_template_and_status(self, client: httpx.AsyncClient, owner: Member) -> None:
        before = await scrape(client)
        for _ in range(2):
            assert (await client.get(f"/api/workspaces/{owner.workspace_id}", headers=owner.headers)).status_code == 200
        assert (await client.get("/api/workspaces/1234567890123456789", headers=owner.headers)).status_code == 404
        assert (await client.get(f"/api/workspaces/{owner.workspace_id}")).status_code == 401
        after = await scrape(client)

        requests = "platform_http_requests_total"
        assert delta(before, after, requests, method="GET", route=WORKSPACE_ROUTE, status="200") == 2
        assert delta(before, after, requests, method="GET", route=WORKSPACE_ROUTE, status="404") == 1
        assert delta(before, after, requests, method="GET", route=WORKSPACE_ROUTE, status="401") == 1
        count = "platform_http_request_duration_seconds_count"
        assert delta(before, after, count, method="GET", route=WORKSPACE_ROUTE) == 4
        infinite = "platform_http_request_duration_seconds_bucket"
        assert delta(before, after, infinite, method="GET", route=WORKSPACE_ROUTE, le="+Inf") == 4
        assert value(after, "platform_http_request_duration_seconds_sum", method="GET", route=WORKSPACE_ROUTE) > 0
        assert owner.workspace_id not in str(label_values(after, "route"))

    async def test_mounted_apps_are_labelled_with_their_prefix(self, client: httpx.AsyncClient) -> None:
        before = await scrape(client)
        assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 200
        after = await scrape(client)
        assert (
            delta(
                before, after, "platform_http_requests_total", method="GET", route="/docs/assets/{path}", status="200"
            )
            == 1
        )

    async def test_unknown_paths_and_methods_add_no_series(self, client: httpx.AsyncClient) -> None:
        await client.get("/warm-up-the-unmatched-series")
        await client.request("BREW", "/healthz")
        before = await scrape(client)
        for index in range(100):
            assert (await client.get(f"/no/such/path/{uuid.uuid4().hex}/{index}")).status_code == 404
            await client.request(f"M{index}", "/healthz")
        after = await scrape(client)

        new_series = set(after) - set(before)
        # Only the scrape's own series may be new (its first 200 on /metrics is counted after it answered).
        assert {labels.get("route") for labels in map(dict, (labels for _, labels in new_series))} <= {"/metrics"}
        requests = "platform_http_requests_total"
        assert delta(before, after, requests, method="GET", route=UNMATCHED_ROUTE, status="404") == 100
        assert delta(before, after, requests, method="OTHER", route="/healthz", status="405") == 100
        assert not any("no/such" in label for label in label_values(after, "route"))


class TestToolCalls:
    async def test_counted_by_tool_outcome_and_channel(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        await connect_and_enable(app, client, owner, "github")
        path = f"/api/workspaces/{owner.workspace_id}/tools"
        before = await scrape(client)
        assert (await client.post(f"{path}/github_list_issues", json={}, headers=owner.headers)).status_code == 200
        assert (
            await client.post(f"{path}/github_list_issues", json={"repo": 5}, headers=owner.headers)
        ).status_code == 422
        assert (
            await client.post(f"{path}/no_such_tool_{uuid.uuid4().hex}", json={}, headers=owner.headers)
        ).status_code == 404
        async with mcp_client(app, owner) as mcp:
            result = await mcp.call_tool("github_list_issues", {"repo": "acme/product"})
            assert not result.is_error
        after = await scrape(client)

        calls = "platform_tool_calls_total"
        assert delta(before, after, calls, tool="github_list_issues", outcome="success", channel="rest") == 1
        assert delta(before, after, calls, tool="github_list_issues", outcome="rejected", channel="rest") == 1
        assert delta(before, after, calls, tool="unknown", outcome="rejected", channel="rest") == 1
        assert delta(before, after, calls, tool="github_list_issues", outcome="success", channel="mcp") == 1
        durations = "platform_tool_call_duration_seconds_count"
        assert delta(before, after, durations, tool="github_list_issues", outcome="success") == 2
        assert not any(tool.startswith("no_such_tool") for tool in label_values(after, "tool"))
        assert delta(before, after, "platform_http_requests_total", method="POST", route=TOOL_ROUTE, status="200") == 1


class TestSync:
    async def test_runs_items_and_durations_by_provider(
        self, app: Any, client: httpx.AsyncClient, owner: Member
    ) -> None:
        integration_id = await connect_and_enable(app, client, owner, "github")
        before = await scrape(client)
        imported = await sync(client, owner, integration_id)
        assert imported["status"] == "completed"
        assert imported["itemsSynced"] > 0
        response = await client.post(
            "/api/work-items", json={"workspaceId": owner.workspace_id, "title": "Export me"}, headers=owner.headers
        )
        assert response.status_code == 201
        exported = await sync(client, owner, integration_id, "work_items", "issues", sync_type="export")
        assert exported["itemsSynced"] == 1
        after = await scrape(client)

        runs = "platform_sync_runs_total"
        assert delta(before, after, runs, provider="github", sync_type="import", status="completed") == 1
        assert delta(before, after, runs, provider="github", sync_type="export", status="completed") == 1
        assert delta(before, after, "platform_sync_items_total", provider="github") == imported["itemsSynced"] + 1
        assert delta(before, after, "platform_sync_duration_seconds_count", provider="github") == 2

    async def test_a_failed_run_is_counted_failed(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        integration_id = await connect_and_enable(app, client, owner, "github", project="acme/does-not-exist")
        before = await scrape(client)
        failed = await sync(client, owner, integration_id, expect=422)
        assert failed["error"]["details"]["provider"] == "github"
        after = await scrape(client)
        runs = "platform_sync_runs_total"
        assert delta(before, after, runs, provider="github", sync_type="import", status="failed") == 1
        assert delta(before, after, runs, provider="github", sync_type="import", status="completed") == 0


class TestStripeWebhooks:
    async def test_outcomes_by_event_type(self, client: httpx.AsyncClient, owner: Member) -> None:
        applied = subscription_event(team_id=owner.team_id, customer="cus_bound", subscription="sub_bound")
        waiting = subscription_event(customer="cus_nobody_yet", subscription="sub_nobody_yet")
        ignored = {**subscription_event(), "type": "charge.succeeded"}
        before = await scrape(client)
        for event in (applied, applied, waiting, ignored):
            assert (await post_stripe(client, event)).status_code == 200
        forged = subscription_event(team_id=owner.team_id)
        assert (await post_stripe(client, forged, secret="whsec_not_ours")).status_code == 401
        assert (await post_stripe(client, b"{not json")).status_code == 400
        after = await scrape(client)

        events = "platform_webhook_events_total"
        updated = "customer.subscription.updated"
        assert delta(before, after, events, source="stripe", type=updated, outcome="processed") == 1
        assert delta(before, after, events, source="stripe", type=updated, outcome="duplicate") == 1
        assert delta(before, after, events, source="stripe", type=updated, outcome="deferred") == 1
        assert delta(before, after, events, source="stripe", type="charge.succeeded", outcome="ignored") == 1
        # The type of a delivery that failed its signature is the sender's word: never a label.
        assert delta(before, after, events, source="stripe", type="unknown", outcome="invalid_signature") == 1
        assert delta(before, after, events, source="stripe", type="unknown", outcome="failed") == 1
        assert delta(before, after, events, source="stripe", type=updated, outcome="invalid_signature") == 0


class TestResendWebhooks:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"METRICS_ENABLED": True, "RESEND_WEBHOOK_SECRET": RESEND_WEBHOOK_SECRET}

    async def test_outcomes_by_event_type(self, client: httpx.AsyncClient) -> None:
        bounce = {"bounce": {"type": "Permanent", "message": "No such mailbox"}}
        before = await scrape(client)
        unknown_email = resend_event("email.delivered", "re_not_ours")
        assert (await post_resend(client, unknown_email, "msg_1")).status_code == 200
        assert (await post_resend(client, unknown_email, "msg_1")).status_code == 200
        suppressing = resend_event("email.bounced", "re_not_ours_either", **bounce)
        assert (await post_resend(client, suppressing, "msg_2")).status_code == 200
        assert (
            await post_resend(client, unknown_email, "msg_3", secret=RESEND_WEBHOOK_SECRET[:-4] + "AAA=")
        ).status_code == 401
        after = await scrape(client)

        events = "platform_webhook_events_total"
        assert delta(before, after, events, source="resend", type="email.delivered", outcome="ignored") == 1
        assert delta(before, after, events, source="resend", type="email.delivered", outcome="duplicate") == 1
        assert delta(before, after, events, source="resend", type="email.bounced", outcome="processed") == 1
        assert delta(before, after, events, source="resend", type="unknown", outcome="invalid_signature") == 1


@pytest.mark.parametrize("settings_overrides", [{"METRICS_ENABLED": True}])
async def test_disabled_webhook_endpoint_counts_nothing(client: httpx.AsyncClient, settings_overrides: Any) -> None:
    before = await scrape(client)
    assert (await post_stripe(client, subscription_event())).status_code == 404
    after = await scrape(client)
    webhooks = "platform_webhook_events_total"
    assert {key: count for key, count in after.items() if key[0] == webhooks} == {
        key: count for key, count in before.items() if key[0] == webhooks
    }


async def _expire_soon(app: Any, integration_id: str) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Integration)
            .where(Integration.id == integration_id)
            .values(token_expires_at=utcnow() + timedelta(minutes=1))
        )


class TestTokenRefreshes:
    async def test_refreshed_failed_and_revoked(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        store = app.state.sandbox
        store.faults.token_lifetime_seconds = 3600
        jira = await connect_and_enable(app, client, owner, "jira")
        before = await scrape(client)

        await _expire_soon(app, jira)
        await app.state.token_manager.access_token(jira)

        await _expire_soon(app, jira)
        store.faults.error_every, store.faults.providers = 1, ["jira"]
        await app.state.token_manager.access_token(jira)  # the old token still has a minute: it is handed out
        store.faults.error_every = 0

        async with app.state.sessionmaker() as session:
            integration = await session.get(Integration, jira)
        assert integration is not None
        refresh_token = Encryptor([TEST_SECRET_KEY]).decrypt(
            integration.refresh_token_encrypted or "", f"integrations:{jira}:refresh_token"
        )
        store.revoke_grant(store.refresh_tokens[refresh_token].grant)
        await _expire_soon(app, jira)
        with pytest.raises((IntegrationExpired, ProviderUnavailable)):
            await app.state.token_manager.access_token(jira)
        after = await scrape(client)

        refreshes = "platform_token_refreshes_total"
        assert delta(before, after, refreshes, provider="jira", outcome="refreshed") == 1
        assert delta(before, after, refreshes, provider="jira", outcome="failed") == 1
        assert delta(before, after, refreshes, provider="jira", outcome="revoked") == 1
