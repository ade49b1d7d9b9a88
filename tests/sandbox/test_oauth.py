"""The simulated OAuth servers: consent page, code + PKCE, single-use codes, refresh rotation, revocation."""

import base64
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from platform_server.sandbox.common import OAUTH_RULES, s256
from platform_server.sandbox.store import SandboxStore
from tests.sandbox.conftest import BASE_URL, bearer

CALLBACK = f"{BASE_URL}/api/integrations/oauth/callback"
PROVIDERS = list(OAUTH_RULES)


@dataclass
class TokenCall:
    """How a client following each provider's rules calls its token endpoint."""

    provider: str

    def request(self, params: dict[str, str], *, path: str | None = None) -> dict[str, Any]:
        rules = OAUTH_RULES[self.provider]
        client_id, secret = f"sandbox-{self.provider}", f"sandbox-secret-{self.provider}"
        headers = {"Accept": "application/json"}
        body = dict(params)
        if "body" in rules.client_auth:
            body.update(client_id=client_id, client_secret=secret)
        else:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        request: dict[str, Any] = {
            "url": f"/sandbox/{self.provider}{path or rules.token_path}",
            "headers": headers,
        }
        if "form" in rules.body_formats:
            request["data"] = body
        else:
            request["json"] = body
        return request


async def authorize(
    http: httpx.AsyncClient,
    provider: str,
    *,
    decision: str = "approve",
    challenge: str | None = None,
    **extra: str,
) -> dict[str, list[str]]:
    rules = OAUTH_RULES[provider]
    params = {
        "client_id": f"sandbox-{provider}",
        "redirect_uri": CALLBACK,
        "state": "st-123",
        "response_type": "code",
    }
    params.update(dict(rules.required_authorize_params))
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    page = await http.get(f"/sandbox/{provider}{rules.authorize_path}", params=params)
    assert page.status_code == 200, page.text
    assert f"Sandbox — {rules.title} wants access" in page.text
    assert 'value="approve">Approve</button>' in page.text
    assert 'value="deny">Deny</button>' in page.text
    response = await http.post(f"/sandbox/{provider}{rules.authorize_path}", data={**params, "decision": decision})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return parse_qs(urlsplit(location).query)


async def exchange(http: httpx.AsyncClient, provider: str, code: str, verifier: str | None = None) -> httpx.Response:
    params = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    if verifier:
        params["code_verifier"] = verifier
    return await http.post(**TokenCall(provider).request(params))


def failed(provider: str, response: httpx.Response) -> str | None:
    """The error code of a token response, however the provider reports it."""
    body = response.json()
    if provider == "slack":
        return None if body["ok"] else str(body["error"])
    if provider == "github":
        assert response.status_code == 200
    return body.get("error")


def access_token(provider: str, response: httpx.Response) -> str:
    body = response.json()
    assert failed(provider, response) is None, body
    return str(body["access_token"])


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_full_round_trip_with_pkce(provider: str, http: httpx.AsyncClient, store: SandboxStore) -> None:
    verifier = secrets.token_urlsafe(48)
    query = await authorize(http, provider, challenge=s256(verifier))
    assert query["state"] == ["st-123"]
    response = await exchange(http, provider, query["code"][0], verifier)
    token = access_token(provider, response)
    record, problem = store.authenticate(provider, token)
    assert problem is None
    assert record is not None
    assert record.grant.account.login == OAUTH_RULES[provider].default_login


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wrong_verifier_and_reused_code_fail(provider: str, http: httpx.AsyncClient, store: SandboxStore) -> None:
    verifier = secrets.token_urlsafe(48)
    code = (await authorize(http, provider, challenge=s256(verifier)))["code"][0]
    assert failed(provider, await exchange(http, provider, code, "not-the-verifier")) is not None
    assert failed(provider, await exchange(http, provider, code)) is not None
    token = access_token(provider, await exchange(http, provider, code, verifier))
    # A replayed code fails and revokes what the code granted.
    assert failed(provider, await exchange(http, provider, code, verifier)) is not None
    assert store.authenticate(provider, token) == (None, "revoked")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_deny_redirects_with_access_denied(provider: str, http: httpx.AsyncClient, store: SandboxStore) -> None:
    query = await authorize(http, provider, decision="deny")
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st-123"]
    assert "code" not in query
    assert not store.codes


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_authorize_validates_client_and_redirect(provider: str, http: httpx.AsyncClient) -> None:
    path = f"/sandbox/{provider}{OAUTH_RULES[provider].authorize_path}"
    bad_client = await http.get(path, params={"client_id": "someone-else", "redirect_uri": CALLBACK})
    assert bad_client.status_code == 400
    assert "Unknown client_id" in bad_client.text
    bad_redirect = await http.get(
        path, params={"client_id": f"sandbox-{provider}", "redirect_uri": "https://evil.example/cb"}
    )
    assert bad_redirect.status_code == 400
    assert "not registered" in bad_redirect.text


async def test_authorize_enforces_provider_parameters(http: httpx.AsyncClient) -> None:
    base = {"client_id": "sandbox-jira", "redirect_uri": CALLBACK, "state": "s", "response_type": "code"}
    response = await http.get("/sandbox/jira/authorize", params=base)
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["location"]
    response = await http.get(
        "/sandbox/linear/oauth/authorize",
        params={**base, "client_id": "sandbox-linear", "response_type": "token"},
    )
    assert "error=unsupported_response_type" in response.headers["location"]
    response = await http.get(
        "/sandbox/github/login/oauth/authorize",
        params={
            **base,
            "client_id": "sandbox-github",
            "code_challenge": "abc",
            "code_challenge_method": "plain",
        },
    )
    assert "error=invalid_request" in response.headers["location"]


async def test_token_endpoints_follow_each_providers_rules(http: httpx.AsyncClient) -> None:
    code = (await authorize(http, "notion"))["code"][0]
    # Notion wants JSON with HTTP Basic; a form body with credentials in it is refused.
    form = await http.post(
        "/sandbox/notion/v1/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": "sandbox-notion",
            "client_secret": "sandbox-secret-notion",
        },
    )
    assert form.status_code == 400
    assert form.json()["error"] == "invalid_request"
    notion = (await exchange(http, "notion", code)).json()
    assert {"bot_id", "workspace_id", "workspace_name", "owner"} <= set(notion)

    code = (await authorize(http, "figma"))["code"][0]
    in_body = await http.post(
        "/sandbox/figma/v1/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": "sandbox-figma",
            "client_secret": "sandbox-secret-figma",
        },
    )
    assert in_body.status_code == 401
    assert in_body.json()["error"] == "invalid_client"

    wrong_secret = TokenCall("jira").request(
        {"grant_type": "authorization_code", "code": "x", "redirect_uri": CALLBACK}
    )
    (wrong_secret.get("json") or wrong_secret["data"])["client_secret"] = "guess"
    assert (await http.post(**wrong_secret)).json()["error"] == "invalid_client"


async def test_github_answers_errors_with_200_and_form_encoding_by_default(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/sandbox/github/login/oauth/access_token",
        data={"client_id": "sandbox-github", "client_secret": "sandbox-secret-github", "code": "nope"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(response.text)["error"] == ["bad_verification_code"]
    code = (await authorize(http, "github"))["code"][0]
    granted = await exchange(http, "github", code)
    assert granted.json()["scope"] == "repo,read:user"
    assert "refresh_token" not in granted.json()


async def test_slack_puts_the_user_token_under_authed_user(http: httpx.AsyncClient, store: SandboxStore) -> None:
    code = (await authorize(http, "slack", scope="channels:read,chat:write", user_scope="search:read"))["code"][0]
    body = (await exchange(http, "slack", code)).json()
    assert body["ok"]
    assert body["token_type"] == "bot"
    assert body["access_token"].startswith("xoxb-")
    assert body["authed_user"]["access_token"].startswith("xoxp-")
    assert body["team"] == {"id": "T0SANDBOX", "name": "Acme"}
    user_only = (await authorize(http, "slack", scope="", user_scope="search:read"))["code"][0]
    body = (await exchange(http, "slack", user_only)).json()
    assert "access_token" not in body
    assert body["authed_user"]["token_type"] == "user"
    assert (await http.post(**TokenCall("slack").request({"code": "bad"}))).json() == {
        "ok": False,
        "error": "invalid_code",
    }


ROTATING = ["github", "jira", "linear", "notion", "slack"]


@pytest.mark.parametrize("provider", ROTATING)
async def test_refresh_rotates_and_reuse_revokes_the_grant(
    provider: str, http: httpx.AsyncClient, store: SandboxStore
) -> None:
    # GitHub and Slack only issue refresh tokens when tokens expire (expiring tokens, token rotation).
    store.faults.token_lifetime_seconds = 3600
    first = (await exchange(http, provider, (await authorize(http, provider))["code"][0])).json()
    refresh = TokenCall(provider).request({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    second = (await http.post(**refresh)).json()
    assert failed(provider, httpx.Response(200, json=second)) is None
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == 3600
    assert store.count(provider, "POST", OAUTH_RULES[provider].token_path) == 2

    reused = await http.post(**refresh)
    assert failed(provider, reused) == {"github": "bad_refresh_token"}.get(provider, "invalid_grant")
    if provider == "jira":
        assert reused.status_code == 403
    # The reuse revoked the whole grant: the rotated token and its access token are dead too.
    assert store.authenticate(provider, second["access_token"]) == (None, "revoked")
    again = TokenCall(provider).request({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert failed(provider, await http.post(**again)) is not None


async def test_figma_refresh_keeps_its_refresh_token(http: httpx.AsyncClient) -> None:
    granted = (await exchange(http, "figma", (await authorize(http, "figma"))["code"][0])).json()
    assert granted["expires_in"] == 7_776_000
    assert granted["user_id_string"]
    call = TokenCall("figma").request({"refresh_token": granted["refresh_token"]}, path="/v1/oauth/refresh")
    for _ in range(2):
        refreshed = (await http.post(**call)).json()
        assert refreshed["access_token"] != granted["access_token"]
        assert "refresh_token" not in refreshed


async def test_jira_issues_refresh_tokens_only_with_offline_access(http: httpx.AsyncClient) -> None:
    code = (await authorize(http, "jira", scope="read:jira-work"))["code"][0]
    assert "refresh_token" not in (await exchange(http, "jira", code)).json()


async def test_expired_tokens_are_refused(http: httpx.AsyncClient, store: SandboxStore) -> None:
    token = store.mint_token("linear").access_token
    store.expire_token(token)
    response = await http.post("/sandbox/linear/graphql", json={"query": "{ viewer { id } }"}, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["type"] == "authentication error"


async def test_revocation_endpoints(http: httpx.AsyncClient, store: SandboxStore) -> None:
    github = store.mint_token("github").access_token
    basic = "Basic " + base64.b64encode(b"sandbox-github:sandbox-secret-github").decode()
    wrong = "Basic " + base64.b64encode(b"sandbox-github:nope").decode()
    path = "/sandbox/github/applications/sandbox-github/grant"
    refused = await http.request("DELETE", path, json={"access_token": github}, headers={"Authorization": wrong})
    assert refused.status_code == 401
    gone = await http.request("DELETE", path, json={"access_token": github}, headers={"Authorization": basic})
    assert gone.status_code == 204
    assert (await http.get("/sandbox/github/user", headers=bearer(github))).json()["message"] == "Bad credentials"

    slack = store.mint_token("slack").access_token
    assert (await http.post("/sandbox/slack/api/auth.revoke", headers=bearer(slack))).json()["revoked"] is True
    assert (await http.get("/sandbox/slack/api/auth.test", headers=bearer(slack))).json()["error"] == "token_revoked"

    linear = store.mint_token("linear").access_token
    assert (await http.post("/sandbox/linear/oauth/revoke", headers=bearer(linear))).status_code == 200
    assert store.authenticate("linear", linear) == (None, "revoked")

    expired = store.mint_token("linear").access_token
    store.expire_token(expired)
    assert (await http.post("/sandbox/linear/oauth/revoke", headers=bearer(expired))).status_code == 400
    assert not store.access_tokens[expired].grant.revoked

    notion = store.mint_token("notion").access_token
    auth = {"Authorization": "Basic " + base64.b64encode(b"sandbox-notion:sandbox-secret-notion").decode()}
    assert (await http.post("/sandbox/notion/v1/oauth/revoke", json={"token": notion}, headers=auth)).status_code == 200
    introspect = await http.post("/sandbox/notion/v1/oauth/introspect", json={"token": notion}, headers=auth)
    assert introspect.json() == {"active": False}


async def test_slack_auth_revoke_ends_only_the_token_it_is_called_with(
    http: httpx.AsyncClient, store: SandboxStore
) -> None:
    store.faults.token_lifetime_seconds = 3600
    issued = store.mint_token("slack", user_scopes=["search:read"])
    assert issued.user_access_token is not None
    assert issued.refresh_token is not None
    assert issued.user_refresh_token is not None
    bot, user = issued.access_token, issued.user_access_token
    assert (await http.post("/sandbox/slack/api/auth.revoke", headers=bearer(bot))).json()["revoked"] is True
    assert (await http.get("/sandbox/slack/api/auth.test", headers=bearer(bot))).json()["error"] == "token_revoked"
    # The user token of the same install, and its refresh token, still work; the bot's refresh token does not.
    assert (await http.get("/sandbox/slack/api/auth.test", headers=bearer(user))).json()["ok"] is True
    form = {"client_id": "sandbox-slack", "client_secret": "sandbox-secret-slack", "grant_type": "refresh_token"}
    token_url = "/sandbox/slack/api/oauth.v2.access"
    bot_refresh = await http.post(token_url, data={**form, "refresh_token": issued.refresh_token})
    assert bot_refresh.json()["ok"] is False
    user_refresh = await http.post(token_url, data={**form, "refresh_token": issued.user_refresh_token})
    assert user_refresh.json()["ok"] is True
    # An expired token cannot revoke anything.
    store.expire_token(user_refresh.json()["access_token"])
    refused = await http.post("/sandbox/slack/api/auth.revoke", headers=bearer(user_refresh.json()["access_token"]))
    assert refused.json()["error"] == "token_expired"


@pytest.mark.parametrize(
    ("provider", "method", "path", "key", "expected"),
    [
        ("github", "GET", "/user", "login", "acme-corp"),
        ("jira", "GET", "/oauth/token/accessible-resources", None, None),
        ("notion", "GET", "/v1/users/me", "type", "bot"),
        ("slack", "POST", "/api/auth.test", "team", "Acme"),
        ("figma", "GET", "/v1/me", "handle", "Acme Designer"),
    ],
)
async def test_whoami(
    provider: str,
    method: str,
    path: str,
    key: str | None,
    expected: str | None,
    http: httpx.AsyncClient,
    store: SandboxStore,
) -> None:
    headers = {**bearer(store.mint_token(provider).access_token), "Notion-Version": "2022-06-28"}
    body = (await http.request(method, f"/sandbox/{provider}{path}", headers=headers)).json()
    if key is None:
        assert body[0]["url"] == "https://acme.atlassian.net"
        assert body[0]["id"] == store.world("jira").cloud_id
    else:
        assert body[key] == expected
