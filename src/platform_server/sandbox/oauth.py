"""The simulated OAuth servers: a consent page per provider and token endpoints with each provider's rules."""

import base64
import html
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from platform_server.sandbox.common import (
    OAUTH_RULES,
    OAuthRules,
    client_id_for,
    client_secret_for,
    json_response,
    s256,
    split_scopes,
    stable_int,
    stable_uuid,
)
from platform_server.sandbox.store import ROTATING, Grant, IssuedTokens, SandboxStore
from platform_server.security import constant_time_equals

# How each provider names the standard OAuth errors (GitHub and Slack have their own vocabulary).
_GITHUB_ERRORS = {
    "invalid_client": "incorrect_client_credentials",
    "invalid_code": "bad_verification_code",
    "redirect_mismatch": "redirect_uri_mismatch",
    "invalid_refresh": "bad_refresh_token",
}
_SLACK_ERRORS = {
    "invalid_client": "invalid_client_id",
    "invalid_code": "invalid_code",
    "redirect_mismatch": "bad_redirect_uri",
    "invalid_refresh": "invalid_grant",
    "invalid_request": "invalid_arguments",
}
_STANDARD_ERRORS = {
    "invalid_code": "invalid_grant",
    "redirect_mismatch": "invalid_grant",
    "invalid_refresh": "invalid_grant",
}
_DESCRIPTIONS = {
    "invalid_client": "Client authentication failed",
    "invalid_code": "The authorization code is invalid, expired or was already used",
    "redirect_mismatch": "The redirect_uri does not match the one used to obtain the code",
    "invalid_refresh": "Unknown or invalid refresh token",
    "invalid_request": "The request is missing a parameter or uses an unsupported format",
    "unsupported_grant_type": "Unsupported grant_type",
}


class OAuthFailure(Exception):
    def __init__(self, kind: str, description: str | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.description = description or _DESCRIPTIONS.get(kind, kind)


def oauth_routes(store: SandboxStore, provider: str) -> list[Route]:
    rules = OAUTH_RULES[provider]

    async def authorize(request: Request) -> Response:
        return await _authorize(store, rules, request)

    async def token(request: Request) -> Response:
        return await _token(store, rules, request, refresh_only=False)

    routes = [
        Route(rules.authorize_path, authorize, methods=["GET", "POST"]),
        Route(rules.token_path, token, methods=["POST"]),
    ]
    if rules.refresh_path:

        async def refresh(request: Request) -> Response:
            return await _token(store, rules, request, refresh_only=True)

        routes.append(Route(rules.refresh_path, refresh, methods=["POST"]))
    return routes


# -- authorize -------------------------------------------------------------------------------------------


async def _authorize(store: SandboxStore, rules: OAuthRules, request: Request) -> Response:
    params: dict[str, str] = dict(request.query_params)
    if request.method == "POST":
        params = {key: str(value) for key, value in (await request.form()).items()}
    client_id = params.get("client_id", "")
    if client_id != client_id_for(rules.provider):
        return _error_page(
            rules, f"Unknown client_id {client_id!r}; the sandbox app is {client_id_for(rules.provider)!r}"
        )
    redirect_uri = params.get("redirect_uri") or min(store.redirect_uris)
    if redirect_uri not in store.redirect_uris:
        return _error_page(rules, f"redirect_uri {redirect_uri!r} is not registered for this app")
    state = params.get("state")
    problem = _authorize_problem(rules, params)
    if problem:
        return _redirect(redirect_uri, {"error": problem[0], "error_description": problem[1], "state": state})
    if request.method == "GET":
        return _consent_page(rules, params, redirect_uri)
    if params.get("decision") != "approve":
        return _redirect(
            redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "state": state,
            },
        )
    login = (params.get("login") or rules.default_login).strip()[:64] or rules.default_login
    grant = store.new_grant(
        rules.provider,
        login,
        _requested_scopes(rules, params),
        split_scopes(params.get("user_scope"), rules.scope_separator),
    )
    code = store.new_code(grant, redirect_uri, params.get("code_challenge") or None)
    return _redirect(redirect_uri, {"code": code, "state": state})


def _authorize_problem(rules: OAuthRules, params: dict[str, str]) -> tuple[str, str] | None:
    if rules.requires_response_type and params.get("response_type") != "code":
        return "unsupported_response_type", "response_type must be code"
    for name, value in rules.required_authorize_params:
        if params.get(name) != value:
            return "invalid_request", f"{name} must be {value}"
    if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
        return "invalid_request", "code_challenge_method must be S256"
    return None


def _requested_scopes(rules: OAuthRules, params: dict[str, str]) -> list[str]:
    # No scope parameter means the app's defaults; an empty one (Slack user-only installs) means none.
    if "scope" not in params:
        return list(rules.default_scopes)
    return split_scopes(params["scope"], rules.scope_separator)


def _redirect(target: str, params: dict[str, str | None]) -> RedirectResponse:
    query = urlencode({key: value for key, value in params.items() if value is not None})
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}{query}", status_code=302)


def _error_page(rules: OAuthRules, message: str) -> HTMLResponse:
    body = f"<h1>Sandbox — {html.escape(rules.title)}</h1><p>{html.escape(message)}</p>"
    return HTMLResponse(_page(f"{rules.title} (sandbox) — error", body), status_code=400)


def _consent_page(rules: OAuthRules, params: dict[str, str], redirect_uri: str) -> HTMLResponse:
    scopes = _requested_scopes(rules, params)
    user_scopes = split_scopes(params.get("user_scope"), rules.scope_separator)
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in {**params, "redirect_uri": redirect_uri}.items()
        if name not in ("decision", "login")
    )
    scope_items = "".join(f"<li><code>{html.escape(scope)}</code></li>" for scope in [*scopes, *user_scopes])
    title = html.escape(rules.title)
    body = f"""
<h1>Sandbox — {title} wants access…</h1>
<p>A simulated {title}. <strong>Platform</strong> asks to act on your behalf with:</p>
<ul>{scope_items or "<li>access to the pages you share</li>"}</ul>
<form method="post">
  {hidden}
  <label>Sign in to {title} as <input name="login" value="{html.escape(rules.default_login)}"></label>
  <p>
    <button type="submit" name="decision" value="approve">Approve</button>
    <button type="submit" name="decision" value="deny">Deny</button>
  </p>
</form>"""
    return HTMLResponse(_page(f"{rules.title} (sandbox) — authorize Platform", body))


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}"
        "button{font-size:1rem;padding:.4rem 1.2rem;margin-right:.5rem}</style>"
        f"</head><body>{body}</body></html>"
    )


# -- token -----------------------------------------------------------------------------------------------


async def _token(store: SandboxStore, rules: OAuthRules, request: Request, *, refresh_only: bool) -> Response:
    try:
        body = await _token_body(rules, request)
        _authenticate_client(rules, request, body)
        grant_type = body.get("grant_type")
        if refresh_only:
            return _token_response(store, rules, request, _refresh(store, rules, body), refreshed=True)
        if grant_type == "refresh_token":
            return _token_response(store, rules, request, _refresh(store, rules, body), refreshed=True)
        if grant_type not in ("authorization_code", None) or (grant_type is None and rules.requires_grant_type):
            raise OAuthFailure("unsupported_grant_type")
        return _token_response(store, rules, request, _exchange_code(store, rules, body), refreshed=False)
    except OAuthFailure as failure:
        return _token_error(rules, request, failure)


async def _token_body(rules: OAuthRules, request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if content_type == "application/json" and "json" in rules.body_formats:
        try:
            data = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError as exc:
            raise OAuthFailure("invalid_request", "The body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise OAuthFailure("invalid_request", "The body must be a JSON object")
        return {key: str(value) for key, value in data.items() if value is not None}
    if content_type == "application/x-www-form-urlencoded" and "form" in rules.body_formats:
        return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
    # GitHub also reads the parameters from the query string.
    if rules.provider == "github" and not raw:
        return dict(request.query_params)
    accepted = " or ".join(
        {"form": "application/x-www-form-urlencoded", "json": "application/json"}[kind]
        for kind in sorted(rules.body_formats)
    )
    raise OAuthFailure("invalid_request", f"Send the parameters as {accepted}")


def _authenticate_client(rules: OAuthRules, request: Request, body: dict[str, str]) -> None:
    header = request.headers.get("authorization", "")
    client_id: str | None = None
    secret: str | None = None
    if header.lower().startswith("basic ") and "basic" in rules.client_auth:
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise OAuthFailure("invalid_client", "Malformed Basic credentials") from exc
    elif "body" in rules.client_auth:
        client_id, secret = body.get("client_id"), body.get("client_secret")
    else:
        raise OAuthFailure("invalid_client", f"{rules.title} requires HTTP Basic client authentication")
    if client_id != client_id_for(rules.provider) or not constant_time_equals(
        secret or "", client_secret_for(rules.provider)
    ):
        raise OAuthFailure("invalid_client")


def _exchange_code(store: SandboxStore, rules: OAuthRules, body: dict[str, str]) -> IssuedTokens:
    code = body.get("code")
    if not code:
        raise OAuthFailure("invalid_request", "code is required")
    record = store.codes.get(code)
    if record is None or record.grant.provider != rules.provider or record.expires_at < time.time():
        raise OAuthFailure("invalid_code")
    if record.used:
        # A replayed code revokes what it granted (RFC 6749 §4.1.2).
        store.revoke_grant(record.grant)
        raise OAuthFailure("invalid_code")
    redirect_uri = body.get("redirect_uri")
    if (redirect_uri is None and rules.requires_redirect_uri_at_token) or (
        redirect_uri is not None and redirect_uri != record.redirect_uri
    ):
        raise OAuthFailure("redirect_mismatch")
    if record.code_challenge is not None:
        verifier = body.get("code_verifier") or ""
        if not verifier or not constant_time_equals(s256(verifier), record.code_challenge):
            raise OAuthFailure("invalid_code", "The code_verifier does not match the code_challenge")
    record.used = True
    return store.issue(record.grant)


def _refresh(store: SandboxStore, rules: OAuthRules, body: dict[str, str]) -> IssuedTokens:
    token = body.get("refresh_token")
    if not token:
        raise OAuthFailure("invalid_request", "refresh_token is required")
    record = store.refresh_tokens.get(token)
    if record is None or record.grant.provider != rules.provider or record.grant.ended_for(record.kind):
        raise OAuthFailure("invalid_refresh")
    if record.used:
        # Reuse of a rotated refresh token (leeway 0): the whole grant is revoked, as Atlassian does.
        store.revoke_grant(record.grant)
        raise OAuthFailure("invalid_refresh")
    rotating = rules.provider in ROTATING
    if rotating:
        record.used = True
    if rules.provider == "github":
        # GitHub: using a refresh token also invalidates the access token it came with.
        for access in store.access_tokens.values():
            if access.grant is record.grant and access.kind == record.kind:
                access.revoked = True
    issued = store.issue(record.grant, with_refresh=rotating, kind=record.kind)
    if not rotating:
        issued.refresh_token = None
    return issued


def _token_response(
    store: SandboxStore, rules: OAuthRules, request: Request, issued: IssuedTokens, *, refreshed: bool
) -> Response:
    grant = issued.grant
    provider = rules.provider
    data: dict[str, Any]
    if provider == "github":
        data = {"access_token": issued.access_token, "token_type": "bearer", "scope": ",".join(grant.scopes)}
        if issued.expires_in is not None:
            data["expires_in"] = issued.expires_in
        if issued.refresh_token:
            data["refresh_token"] = issued.refresh_token
            data["refresh_token_expires_in"] = 15_897_600
        if "application/json" not in request.headers.get("accept", ""):
            return Response(urlencode(data), media_type="application/x-www-form-urlencoded")
        return json_response(data)
    if provider == "slack":
        return json_response(_slack_token_body(store, grant, issued, refreshed=refreshed))
    if provider == "figma":
        account_id = grant.account.id
        data = {"access_token": issued.access_token, "token_type": "bearer", "expires_in": issued.expires_in}
        if not refreshed:
            data = {"user_id": account_id, "user_id_string": str(account_id), **data}
        if issued.refresh_token:
            data["refresh_token"] = issued.refresh_token
        return json_response(data)
    data = {"access_token": issued.access_token, "token_type": "bearer" if provider == "notion" else "Bearer"}
    if issued.expires_in is not None:
        data["expires_in"] = issued.expires_in
    if issued.refresh_token:
        data["refresh_token"] = issued.refresh_token
    if provider == "notion":
        data.update(_notion_token_extras(grant))
    else:
        data["scope"] = " ".join(grant.scopes)
    return json_response(data)


def _slack_token_body(store: SandboxStore, grant: Grant, issued: IssuedTokens, *, refreshed: bool) -> dict[str, Any]:
    team = {"id": "T0SANDBOX", "name": "Acme"}
    record = store.access_tokens[issued.access_token]
    user_id = f"U{stable_int('slack-user', grant.account.login, modulo=10**8):08d}"
    token_fields: dict[str, Any] = {"access_token": issued.access_token}
    if issued.refresh_token:
        token_fields.update(refresh_token=issued.refresh_token, expires_in=issued.expires_in)
    if refreshed or record.kind == "bot":
        scopes = grant.scopes if record.kind == "bot" else grant.user_scopes
        body: dict[str, Any] = {
            "ok": True,
            "app_id": "A0SANDBOX",
            "scope": ",".join(scopes),
            "token_type": record.kind,
            **token_fields,
            "team": team,
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if record.kind == "bot":
            body["bot_user_id"] = "U0SANDBOXBOT"
        if not refreshed:
            body["authed_user"] = {"id": user_id}
            if issued.user_access_token:
                user_fields: dict[str, Any] = {"access_token": issued.user_access_token}
                if issued.user_refresh_token:
                    user_fields.update(refresh_token=issued.user_refresh_token, expires_in=issued.expires_in)
                body["authed_user"].update(scope=",".join(grant.user_scopes), token_type="user", **user_fields)
        return body
    # Only user scopes were requested: the token is under authed_user, as Slack does.
    return {
        "ok": True,
        "app_id": "A0SANDBOX",
        "authed_user": {
            "id": user_id,
            "scope": ",".join(grant.user_scopes),
            "token_type": "user",
            **token_fields,
        },
        "team": team,
        "enterprise": None,
        "is_enterprise_install": False,
    }


def notion_bot_id(login: str) -> str:
    """The id of the integration's bot user in the workspace of the account that installed it."""
    return stable_uuid("notion-bot", login)


def notion_workspace_id(login: str) -> str:
    return stable_uuid("notion-workspace", login)


def _notion_token_extras(grant: Grant) -> dict[str, Any]:
    account = grant.account
    return {
        "bot_id": notion_bot_id(account.login),
        "workspace_id": notion_workspace_id(account.login),
        "workspace_name": account.display_name,
        "workspace_icon": None,
        "owner": {
            "type": "user",
            "user": {
                "object": "user",
                "id": stable_uuid("notion-user", account.login),
                "name": account.display_name,
                "avatar_url": None,
                "type": "person",
                "person": {"email": account.email},
            },
        },
        "duplicated_template_id": None,
        "request_id": stable_uuid("notion-request", grant.id),
    }


def _token_error(rules: OAuthRules, request: Request, failure: OAuthFailure) -> Response:
    provider = rules.provider
    if provider == "slack":
        return json_response({"ok": False, "error": _SLACK_ERRORS.get(failure.kind, failure.kind)})
    if provider == "github":
        # GitHub answers token errors with HTTP 200 and an error field.
        data = {
            "error": _GITHUB_ERRORS.get(failure.kind, failure.kind),
            "error_description": failure.description,
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors",
        }
        if "application/json" not in request.headers.get("accept", ""):
            return Response(urlencode(data), media_type="application/x-www-form-urlencoded")
        return json_response(data)
    if provider == "figma" and failure.kind == "invalid_refresh":
        # Figma's refresh endpoint refuses in its older error form, not RFC 6749's.
        return json_response({"error": True, "status": 400, "message": failure.description}, 400)
    error = _STANDARD_ERRORS.get(failure.kind, failure.kind)
    status = 401 if error == "invalid_client" else 400
    if provider == "jira" and error == "invalid_grant":
        status = 403
    return json_response({"error": error, "error_description": failure.description}, status)
