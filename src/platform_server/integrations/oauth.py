"""OAuth 2.0 with Authlib: authorize URLs with PKCE S256, code exchange and refresh, per provider rules.

Authlib's client speaks httpx2; its requests are bridged onto the app's shared httpx client, so OAuth calls
use the same pool, timeouts and in-process sandbox routing as every other provider call.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import httpx2
from authlib.common.security import generate_token
from authlib.common.urls import url_decode
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oauth2.client import OAuth2Client

from platform_server.db import utcnow
from platform_server.integrations.providers.base import ClientCredentials, Provider

# A refused refresh with one of these codes means the grant is gone: only reconnecting helps. GitHub and Slack
# have their own names for the standard codes.
GRANT_REVOKED_ERRORS = frozenset(
    {
        "invalid_grant",
        "invalid_client",
        "unauthorized_client",
        "bad_refresh_token",
        "incorrect_client_credentials",
        "invalid_refresh_token",
        "invalid_client_id",
        "token_revoked",
    }
)
# A token that expires within this margin is refreshed before use.
EXPIRY_SKEW = timedelta(seconds=30)
_HOP_BY_HOP = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})


class OAuthFailure(Exception):
    """The provider refused (`transient` false: the grant is gone) or could not be reached (`transient` true)."""

    def __init__(self, error: str, description: str, *, transient: bool) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.transient = transient

    @property
    def grant_revoked(self) -> bool:
        return not self.transient and self.error in GRANT_REVOKED_ERRORS


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: list[str] | None
    # Slack's user token, with its own refresh token and lifetime when token rotation is on.
    user_token: str | None = None
    user_refresh_token: str | None = None
    user_expires_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class _HttpxBridge(httpx2.AsyncBaseTransport):
    def __init__(self, http: httpx.AsyncClient, timeout: float) -> None:
        self._http = http
        self._timeout = timeout

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._http.request(
            request.method,
            str(request.url),
            headers=list(request.headers.multi_items()),
            content=await request.aread(),
            timeout=self._timeout,
        )
        # The body arrives already decoded, so encoding and length headers would no longer describe it.
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_BY_HOP]
        return httpx2.Response(response.status_code, headers=headers, content=response.content)


class _ProviderOAuthClient(AsyncOAuth2Client):  # type: ignore[misc]
    """Authlib's client, plus JSON token bodies (Notion) and extra token headers (GitHub's Accept)."""

    def __init__(self, provider: Provider, credentials: ClientCredentials, http: httpx.AsyncClient) -> None:
        super().__init__(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            token_endpoint_auth_method=provider.oauth.client_auth,
            code_challenge_method="S256" if provider.oauth.pkce else None,
            transport=_HttpxBridge(http, provider.timeout),
            timeout=provider.timeout,
        )
        self._provider = provider
        self._json_body = provider.oauth.body_format == "json"
        self._token_headers = dict(provider.token_headers)

    def parse_response_token(self, response: Any) -> Any:
        # A refusal in the provider's own form becomes the standard error it means, so "grant gone" is seen.
        if response.status_code < 500:
            try:
                body = response.json()
            except ValueError:
                body = None
            error = self._provider.token_error(response.status_code, body) if isinstance(body, dict) else None
            if error is not None:
                raise OAuthError(error=error, description=str(body.get("message") or ""))
        return super().parse_response_token(response)

    def _post_token_request(self, url: str, body: str, headers: Mapping[str, str] | None, auth: Any) -> Any:
        merged = {**(headers or {}), **self._token_headers}
        fields = dict(url_decode(body))
        if self._json_body:
            merged["Content-Type"] = "application/json"
            return self.post(url, json=fields, headers=merged, auth=auth)
        return self.post(url, data=fields, headers=merged, auth=auth)

    async def _fetch_token(
        self, url: str, body: str = "", headers: Mapping[str, str] | None = None, auth: Any = None, **_: Any
    ) -> Any:
        response = await self._post_token_request(url, body, headers, auth)
        return self.parse_response_token(response)

    async def _refresh_token(
        self,
        url: str,
        refresh_token: str | None = None,
        body: str = "",
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        **_: Any,
    ) -> Any:
        response = await self._post_token_request(url, body, headers, auth)
        return self.parse_response_token(response)


def new_code_verifier() -> str:
    # 64 characters from the unreserved set: inside RFC 7636's 43 to 128 range.
    return str(generate_token(64))


def authorization_url(
    provider: Provider,
    credentials: ClientCredentials,
    *,
    redirect_uri: str,
    state: str,
    scopes: list[str],
    code_verifier: str | None,
) -> str:
    config = provider.oauth
    app_scopes = [s for s in scopes if s not in config.user_scope_names]
    params: dict[str, str] = dict(config.extra_authorize_params)
    if config.user_scope_param:
        user_scopes = [s for s in scopes if s in config.user_scope_names]
        if user_scopes:
            params[config.user_scope_param] = config.scope_separator.join(user_scopes)
    # Authlib would join a list with spaces; Linear, Slack and Figma separate scopes with commas.
    scope = config.scope_separator.join(app_scopes) if app_scopes else None
    # The protocol-only client: building a URL needs no HTTP.
    client = OAuth2Client(
        session=None, client_id=credentials.client_id, code_challenge_method="S256" if config.pkce else None
    )
    url, _ = client.create_authorization_url(
        provider.url(config.authorize_url),
        state=state,
        code_verifier=code_verifier if config.pkce else None,
        redirect_uri=redirect_uri,
        scope=scope,
        **params,
    )
    return str(url)


async def exchange_code(
    provider: Provider,
    credentials: ClientCredentials,
    http: httpx.AsyncClient,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
) -> TokenSet:
    extra = {"code_verifier": code_verifier} if code_verifier else {}
    async with _ProviderOAuthClient(provider, credentials, http) as client:
        token = await _call(
            client.fetch_token(
                provider.url(provider.oauth.token_url),
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                **extra,
            )
        )
    return _token_set(provider, token, previous_refresh_token=None)


async def refresh(
    provider: Provider, credentials: ClientCredentials, http: httpx.AsyncClient, refresh_token: str
) -> TokenSet:
    async with _ProviderOAuthClient(provider, credentials, http) as client:
        token = await _call(client.refresh_token(provider.url(provider.oauth.refresh_endpoint), refresh_token))
    return _token_set(provider, token, previous_refresh_token=refresh_token)


async def _call(awaitable: Any) -> Mapping[str, Any]:
    try:
        token: Mapping[str, Any] = await awaitable
    except OAuthError as exc:
        raise OAuthFailure(str(exc.error), str(exc.description or ""), transient=False) from exc
    except httpx2.HTTPStatusError as exc:
        status = exc.response.status_code
        raise OAuthFailure(f"http_{status}", "the token endpoint failed", transient=status >= 500) from exc
    except (httpx.HTTPError, httpx2.HTTPError) as exc:
        raise OAuthFailure("network_error", type(exc).__name__, transient=True) from exc
    except ValueError as exc:
        raise OAuthFailure("invalid_response", "the token endpoint answered no JSON object", transient=True) from exc
    if not token.get("access_token"):
        raise OAuthFailure("invalid_response", "the token response has no access_token", transient=True)
    return token


def _token_set(provider: Provider, token: Mapping[str, Any], previous_refresh_token: str | None) -> TokenSet:
    scope = token.get("scope")
    scopes = [s for s in str(scope).replace(",", " ").split() if s] if scope else None
    user = provider.user_grant(token) or {}
    return TokenSet(
        access_token=str(token["access_token"]),
        # A refresh response without a refresh token means the old one stays valid (Figma never rotates).
        refresh_token=str(token.get("refresh_token") or previous_refresh_token or "") or None,
        expires_at=_expires_at(token),
        scopes=scopes,
        user_token=str(user["access_token"]) if user.get("access_token") else None,
        user_refresh_token=str(user["refresh_token"]) if user.get("refresh_token") else None,
        user_expires_at=_expires_at(user),
        metadata=provider.token_metadata(token),
    )


def _expires_at(token: Mapping[str, Any]) -> datetime | None:
    expires_in = token.get("expires_in")
    return utcnow() + timedelta(seconds=int(expires_in)) - EXPIRY_SKEW if expires_in else None
