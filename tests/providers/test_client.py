"""The provider client against the sandbox's fault knobs: retries, rate limits, refresh on 401, pagination."""

import time
from email.utils import formatdate
from typing import Any

import httpx
import pytest
import structlog

from platform_server.integrations.providers.client import (
    IntegrationExpired,
    ProviderBadRequest,
    ProviderClient,
    ProviderHttp,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderResponse,
    ProviderUnavailable,
    RetryPolicy,
    StaticTokenSource,
    parse_retry_after,
)
from platform_server.integrations.providers.github.api import github_pages
from platform_server.integrations.providers.jira.api import jira_offset_pages, jira_search_pages
from platform_server.integrations.providers.linear.api import linear_pages
from platform_server.integrations.providers.notion.api import notion_pages
from platform_server.integrations.providers.slack.api import slack_pages
from platform_server.integrations.registry import PROVIDER_CLASSES
from platform_server.sandbox.store import SandboxStore
from platform_server.sandbox.worlds import JiraWorld

ISSUES = "/repos/acme/product/issues"


class Sleeps:
    """Records the waits instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class RefreshingTokens:
    """A token source whose first token is bad; refreshing mints a good one in the sandbox."""

    def __init__(self, store: SandboxStore, provider: str, *, refresh_works: bool = True) -> None:
        self.store = store
        self.provider = provider
        self.refresh_works = refresh_works
        self.token = "stale-token"
        self.refreshes = 0
        self.rejected_after_refresh_calls = 0

    async def access_token(self) -> str:
        return self.token

    async def refresh_after_unauthorized(self, user_token: bool = False) -> str:
        self.refreshes += 1
        self.token = self.store.mint_token(self.provider).access_token if self.refresh_works else "still-bad"
        return self.token

    async def user_access_token(self) -> str | None:
        return None

    async def rejected_after_refresh(self) -> None:
        self.rejected_after_refresh_calls += 1


def make_client(
    store: SandboxStore, provider_http: ProviderHttp, provider: str, sleeps: Sleeps, **policy: Any
) -> ProviderClient:
    tokens = store.mint_token(provider)
    return ProviderClient(
        PROVIDER_CLASSES[provider].api,
        provider_http.http(provider),
        StaticTokenSource(provider, tokens.access_token, tokens.user_access_token),
        policy=RetryPolicy(**policy),
        sleep=sleeps,
    )


async def test_server_errors_on_reads_are_retried_with_backoff(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    sleeps = Sleeps()
    client = make_client(store, provider_http, "github", sleeps)
    store.faults.error_every = 2
    await client.get(ISSUES)
    response = await client.get(ISSUES)
    assert response.status_code == 200
    assert store.count("github", "GET", "/repos/{owner}/{repo}/issues") == 3
    assert len(sleeps.waits) == 1
    assert 0 < sleeps.waits[0] <= RetryPolicy().backoff_base_seconds


async def test_persistent_server_errors_give_up_after_max_attempts(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    client = make_client(store, provider_http, "notion", Sleeps(), max_attempts=3)
    store.faults.error_every = 1
    with pytest.raises(ProviderUnavailable, match="try again later"):
        await client.get("/v1/users/me")
    assert store.count("notion", "GET", "/v1/users/me") == 3


async def test_writes_are_not_retried_after_a_server_error(store: SandboxStore, provider_http: ProviderHttp) -> None:
    client = make_client(store, provider_http, "github", Sleeps())
    store.faults.error_every = 1
    with pytest.raises(ProviderUnavailable, match="check whether the change was made"):
        await client.post(ISSUES, json={"title": "once"})
    assert store.count("github", "POST", "/repos/{owner}/{repo}/issues") == 1


async def test_rate_limited_writes_are_retried_because_they_were_not_processed(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    sleeps = Sleeps()
    client = make_client(store, provider_http, "slack", sleeps)
    store.faults.rate_limit_every = 1
    store.faults.retry_after_seconds = 0
    store.faults.providers = ["slack"]
    with pytest.raises(ProviderRateLimited):
        await client.post("/api/chat.postMessage", json={"channel": "C0000000001", "text": "x"})
    assert store.count("slack", "POST", "/api/chat.postMessage") == RetryPolicy().max_attempts
    store.faults.rate_limit_every = 2
    response = await client.post("/api/chat.postMessage", json={"channel": "C0000000001", "text": "posted once"})
    assert response.data["ok"] is True
    assert [m["text"] for m in store.world("slack").messages].count("posted once") == 1


async def test_retry_after_is_honoured_with_jitter(store: SandboxStore, provider_http: ProviderHttp) -> None:
    sleeps = Sleeps()
    client = make_client(store, provider_http, "notion", sleeps)
    store.faults.rate_limit_every = 2
    store.faults.retry_after_seconds = 3
    await client.get("/v1/users/me")
    response = await client.get("/v1/users/me")
    assert response.status_code == 200
    assert len(sleeps.waits) == 1
    assert 3 <= sleeps.waits[0] <= 3 * 1.1 + 0.05


async def test_a_wait_beyond_the_cap_raises_at_once(store: SandboxStore, provider_http: ProviderHttp) -> None:
    sleeps = Sleeps()
    client = make_client(store, provider_http, "jira", sleeps, max_rate_limit_wait_seconds=10)
    jira: JiraWorld = store.world("jira")
    store.faults.rate_limit_every = 1
    store.faults.retry_after_seconds = 120
    with pytest.raises(ProviderRateLimited) as raised:
        await client.get(f"/ex/jira/{jira.cloud_id}/rest/api/3/myself")
    assert raised.value.retry_after_seconds == 120
    assert "retry in 120 seconds" in raised.value.message
    assert raised.value.to_dict()["retryAfterSeconds"] == 120
    assert sleeps.waits == []
    assert store.count("jira") == 1


async def test_github_primary_limit_waits_for_the_epoch_reset(store: SandboxStore, provider_http: ProviderHttp) -> None:
    sleeps = Sleeps()
    client = make_client(store, provider_http, "github", sleeps)
    store.faults.rate_limit_every = 2
    store.faults.retry_after_seconds = 2
    await client.get("/user")
    assert (await client.get("/user")).status_code == 200
    # 403 + x-ratelimit-remaining 0: the wait is the reset (whole epoch seconds) minus now.
    assert len(sleeps.waits) == 1
    assert 1 <= sleeps.waits[0] <= 3 * 1.1 + 0.05


@pytest.mark.parametrize("status", [403, 429])
async def test_github_secondary_limit_without_retry_after_waits_a_minute(
    store: SandboxStore, provider_http: ProviderHttp, status: int
) -> None:
    sleeps = Sleeps()
    client = make_client(store, provider_http, "github", sleeps)
    store.faults.rate_limit_every = 1
    store.faults.secondary_rate_limit_status = status
    # A minute is beyond what a call may wait: it fails at once, saying when to come back, and sends no more.
    with pytest.raises(ProviderRateLimited) as raised:
        await client.get("/user")
    assert raised.value.retry_after_seconds == 60
    assert "GitHub rate limit reached; retry in 60 seconds" in raised.value.message
    assert (sleeps.waits, store.count("github", "GET", "/user")) == ([], 1)


async def test_github_secondary_limit_backs_off_exponentially(store: SandboxStore, provider_http: ProviderHttp) -> None:
    sleeps = Sleeps()
    client = make_client(store, provider_http, "github", sleeps, max_rate_limit_wait_seconds=600)
    store.faults.rate_limit_every = 1
    store.faults.secondary_rate_limit_status = 403
    with pytest.raises(ProviderRateLimited) as raised:
        await client.get("/user")
    assert all(base <= wait <= base * 1.1 + 0.05 for base, wait in zip((60, 120, 240), sleeps.waits, strict=True))
    assert raised.value.retry_after_seconds == 480


async def test_github_403_without_a_rate_limit_is_a_permission_error(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    client = make_client(store, provider_http, "github", Sleeps())
    response = ProviderResponse(
        403, httpx.Headers({"x-ratelimit-remaining": "4999"}), {"message": "Resource not accessible"}, ""
    )
    assert not client.api.is_rate_limited(response)


async def test_linear_rate_limit_in_the_graphql_body(store: SandboxStore, provider_http: ProviderHttp) -> None:
    sleeps = Sleeps()
    client = make_client(store, provider_http, "linear", sleeps)
    store.faults.rate_limit_every = 1
    store.faults.retry_after_seconds = 60
    with pytest.raises(ProviderRateLimited) as raised:
        await client.graphql("{ viewer { id } }")
    # The reset header is in epoch milliseconds.
    assert 58 <= raised.value.retry_after_seconds <= 61


async def test_unauthorized_refreshes_once_then_retries(store: SandboxStore, provider_http: ProviderHttp) -> None:
    tokens = RefreshingTokens(store, "github")
    client = provider_http.client("github", tokens)
    response = await client.get("/user")
    assert response.status_code == 200
    assert tokens.refreshes == 1
    assert store.count("github", "GET", "/user") == 2


async def test_a_second_unauthorized_means_the_integration_expired(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    tokens = RefreshingTokens(store, "figma", refresh_works=False)
    client = provider_http.client("figma", tokens)
    with pytest.raises(IntegrationExpired, match="reconnect Figma"):
        await client.get("/v1/me")
    assert tokens.refreshes == 1
    assert tokens.rejected_after_refresh_calls == 1
    assert store.count("figma", "GET", "/v1/me") == 2


async def test_figma_refuses_a_bad_token_with_403_and_a_refresh_follows(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    tokens = RefreshingTokens(store, "figma")
    client = provider_http.client("figma", tokens)
    response = await client.get("/v1/me")
    assert response.status_code == 200
    assert tokens.refreshes == 1
    assert store.count("figma", "GET", "/v1/me") == 2


async def test_slack_auth_errors_on_http_200_count_as_unauthorized(
    store: SandboxStore, provider_http: ProviderHttp
) -> None:
    tokens = RefreshingTokens(store, "slack")
    client = provider_http.client("slack", tokens)
    response = await client.get("/api/auth.test")
    assert response.data["ok"] is True
    assert tokens.refreshes == 1


async def test_provider_errors_are_typed(store: SandboxStore, provider_http: ProviderHttp) -> None:
    client = make_client(store, provider_http, "github", Sleeps())
    with pytest.raises(ProviderNotFound, match="/repos/acme/nothing/issues"):
        await client.get("/repos/acme/nothing/issues")
    with pytest.raises(ProviderBadRequest, match="Validation Failed"):
        await client.get(ISSUES, params={"state": "sideways"})
    notion = make_client(store, provider_http, "notion", Sleeps())
    with pytest.raises(ProviderBadRequest, match="valid uuid"):
        await notion.get("/v1/pages/not-a-uuid")


class FlakyTransport(httpx.AsyncBaseTransport):
    """Times out the first request, then hands over to the real transport: a network that drops once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return await self.inner.handle_async_request(request)


async def test_timeouts_are_retried_on_reads_only(store: SandboxStore, provider_http: ProviderHttp) -> None:
    token = store.mint_token("github").access_token
    inner = provider_http.transport()
    assert inner is not None
    for method, expected in (("GET", 200), ("POST", None)):
        transport = FlakyTransport(inner)
        async with httpx.AsyncClient(base_url=provider_http.http("github").base_url, transport=transport) as http:
            client = ProviderClient(
                PROVIDER_CLASSES["github"].api, http, StaticTokenSource("github", token), sleep=Sleeps()
            )
            if expected:
                assert (await client.request(method, "/user")).status_code == expected
                assert transport.calls == 2
            else:
                with pytest.raises(ProviderUnavailable, match="did not answer in time"):
                    await client.request(method, ISSUES, json={"title": "maybe created"})
                assert transport.calls == 1


async def test_in_process_calls_keep_the_callers_log_context(store: SandboxStore, provider_http: ProviderHttp) -> None:
    client = make_client(store, provider_http, "github", Sleeps())
    structlog.contextvars.bind_contextvars(request_id="caller-request")
    try:
        await client.get("/user")
        assert structlog.contextvars.get_contextvars()["request_id"] == "caller-request"
    finally:
        structlog.contextvars.clear_contextvars()


def test_retry_after_parsing() -> None:
    now = time.time()
    assert parse_retry_after("7") == 7
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert 29 <= (parse_retry_after(formatdate(now + 30, usegmt=True), now) or 0) <= 31
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0


def test_reset_header_parsing() -> None:
    now = 1_700_000_000.0
    github, linear, jira, notion = (PROVIDER_CLASSES[name].api for name in ("github", "linear", "jira", "notion"))
    assert github.reset_after(httpx.Headers({"x-ratelimit-reset": str(int(now) + 42)}), now) == 42
    assert linear.reset_after(httpx.Headers({"x-ratelimit-requests-reset": str(int(now * 1000) + 5000)}), now) == 5
    jira_reset = httpx.Headers({"x-ratelimit-reset": "2023-11-14T22:14Z"})
    assert jira.reset_after(jira_reset, now) == pytest.approx(1_700_000_040 - now)
    assert jira.reset_after(httpx.Headers({"x-ratelimit-reset": str(int(now) + 9)}), now) == 9
    assert notion.reset_after(httpx.Headers({}), now) is None


async def test_github_link_pagination(store: SandboxStore, provider_http: ProviderHttp) -> None:
    client = make_client(store, provider_http, "github", Sleeps())
    pages = [
        page async for page in github_pages(client, "/repos/acme/website/issues", {"state": "all", "per_page": 10})
    ]
    numbers = [issue["number"] for page in pages for issue in page]
    # 25 issues, and every fifth number is a pull request served by the same endpoint.
    assert len(pages) == 4
    assert sorted(numbers) == list(range(1, 32))
    assert sum(1 for page in pages for issue in page if "pull_request" not in issue) == 25


async def test_jira_pagination(store: SandboxStore, provider_http: ProviderHttp) -> None:
    jira: JiraWorld = store.world("jira")
    client = make_client(store, provider_http, "jira", Sleeps())
    base = f"/ex/jira/{jira.cloud_id}/rest/api/3"
    body = {"jql": "project = OPS ORDER BY key ASC", "maxResults": 4, "fields": ["summary"]}
    pages = [page async for page in jira_search_pages(client, f"{base}/search/jql", body)]
    assert [len(page) for page in pages] == [4, 4, 4, 3]
    assert [issue["key"] for page in pages for issue in page] == [f"OPS-{n}" for n in range(1, 16)]
    projects = [page async for page in jira_offset_pages(client, f"{base}/project/search", page_size=4)]
    assert [len(page) for page in projects] == [4, 4, 2]


async def test_linear_notion_and_slack_pagination(store: SandboxStore, provider_http: ProviderHttp) -> None:
    linear = make_client(store, provider_http, "linear", Sleeps())
    query = (
        'query($after: String) { issues(first: 4, after: $after, filter: {team: {key: {eq: "OPS"}}}) '
        "{ nodes { identifier } pageInfo { hasNextPage endCursor } } }"
    )
    pages = [page async for page in linear_pages(linear, query, {}, lambda data: data["issues"])]
    assert [len(page) for page in pages] == [4, 1]

    notion = make_client(store, provider_http, "notion", Sleeps())
    body = {"filter": {"property": "object", "value": "page"}, "page_size": 50}
    results = [page async for page in notion_pages(notion, "POST", "/v1/search", body)]
    assert sum(len(page) for page in results) == store.faults.volume + len(store.world("notion").pages)

    slack = make_client(store, provider_http, "slack", Sleeps())
    channels = [page async for page in slack_pages(slack, "conversations.list", {"limit": 4}, "channels")]
    # Ten public channels (the default type), four a page.
    assert [len(page) for page in channels] == [4, 4, 2]


async def test_no_provider_cookie_is_kept_between_calls(provider_http: ProviderHttp) -> None:
    # One pooled client per provider serves every team: a cookie kept from one call would reach the next.
    http = provider_http.http("github")
    request = http.build_request("GET", "/user")
    response = httpx.Response(200, headers={"Set-Cookie": "session=team-a; Path=/"}, request=request)
    http.cookies.extract_cookies(response)
    assert len(http.cookies) == 0
    assert "cookie" not in http.build_request("GET", "/user").headers
