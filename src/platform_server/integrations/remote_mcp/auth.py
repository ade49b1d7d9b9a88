"""Authorization to a remote MCP server, as the MCP authorization spec asks of a client: discovery (protected
resource metadata, then authorization server metadata, with the 2025-03-26 fallbacks), client registration
(pre-registered credentials, our Client ID Metadata Document, or dynamic registration), the authorization code
flow with PKCE S256 and the `resource` indicator, and refresh. The flow spans two web requests (the redirect to
the authorization server, the callback later), so each step is a function; the caller keeps what they return.

The MCP SDK supplies the discovery URL orders, the metadata models and their response handling; Authlib
builds the authorization URL, the token requests and the client authentication."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import orjson
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from mcp.client.auth import OAuthFlowError, OAuthRegistrationError
from mcp.client.auth.oauth2 import check_registration_usable
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    create_client_registration_request,
    create_oauth_metadata_request,
    extract_resource_metadata_from_www_auth,
    extract_scope_from_www_auth,
    handle_auth_metadata_response,
    handle_protected_resource_response,
    handle_registration_response,
    is_valid_client_metadata_url,
    validate_metadata_issuer,
)
from mcp.shared.auth import OAuthClientMetadata, OAuthMetadata, OAuthToken, ProtectedResourceMetadata
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from pydantic import ValidationError

from platform_server.integrations.remote_mcp.net import GuardedTransport
from platform_server.integrations.remote_mcp.upstream import (
    UpstreamGrantRevoked,
    UpstreamLimits,
    UpstreamProtocolError,
    UpstreamUnauthorized,
    clip_message,
    upstream_error,
)

CLIENT_METADATA_PATH = "/oauth/mcp-client-metadata.json"
CALLBACK_PATH = "/api/integrations/mcp/callback"
CLIENT_NAME = "Platform"
GRANT_TYPES = ["authorization_code", "refresh_token"]
PKCE_VERIFIER_LENGTH = 64
OFFLINE_ACCESS = "offline_access"
# The token endpoint authentication of a public client (PKCE protects its code).
PUBLIC_CLIENT = "none"


class RegistrationMethod(StrEnum):
    preregistered = "preregistered"
    metadata_document = "metadata_document"
    dynamic = "dynamic"


def client_metadata_document(public_base_url: str) -> dict[str, Any]:
    """Our Client ID Metadata Document: its URL is our client id at every authorization server that accepts
    such documents."""
    return {
        "client_id": public_base_url + CLIENT_METADATA_PATH,
        "client_name": CLIENT_NAME,
        "client_uri": public_base_url,
        "redirect_uris": [public_base_url + CALLBACK_PATH],
        "grant_types": GRANT_TYPES,
        "response_types": ["code"],
        "token_endpoint_auth_method": PUBLIC_CLIENT,
    }


@dataclass(frozen=True)
class AuthDiscovery:
    server_url: str
    # The canonical resource the tokens are asked for (RFC 8707).
    resource: str
    authorization_server: OAuthMetadata
    resource_metadata: ProtectedResourceMetadata | None
    # Requested when the caller names none: the challenge's scope, else the resource's scopes_supported.
    scopes: list[str] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "serverUrl": self.server_url,
            "resource": self.resource,
            "authorizationServer": self.authorization_server.model_dump(mode="json", exclude_none=True),
            "resourceMetadata": (
                None if self.resource_metadata is None else self.resource_metadata.model_dump(mode="json")
            ),
            "scopes": self.scopes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AuthDiscovery":
        resource_metadata = data.get("resourceMetadata")
        return cls(
            server_url=data["serverUrl"],
            resource=data["resource"],
            authorization_server=OAuthMetadata.model_validate(data["authorizationServer"]),
            resource_metadata=(
                None if resource_metadata is None else ProtectedResourceMetadata.model_validate(resource_metadata)
            ),
            scopes=data.get("scopes"),
        )


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str | None = None
    # None: chosen from what the authorization server advertises when the credentials are registered.
    token_endpoint_auth_method: str | None = None
    how: RegistrationMethod = RegistrationMethod.preregistered

    def to_dict(self) -> dict[str, Any]:
        return {
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "tokenEndpointAuthMethod": self.token_endpoint_auth_method,
            "how": self.how.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClientCredentials":
        return cls(
            client_id=data["clientId"],
            client_secret=data.get("clientSecret"),
            token_endpoint_auth_method=data.get("tokenEndpointAuthMethod"),
            how=RegistrationMethod(data.get("how", RegistrationMethod.preregistered)),
        )


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiresAt": None if self.expires_at is None else self.expires_at.isoformat(),
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TokenSet":
        expires_at = data.get("expiresAt")
        return cls(
            access_token=data["accessToken"],
            refresh_token=data.get("refreshToken"),
            expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
            scope=data.get("scope"),
        )


class _Http:
    """One authorization step's HTTP: the guarded transport, no redirects followed (metadata and token
    endpoints answer directly; a redirected token request would carry credentials elsewhere), time-boxed."""

    def __init__(self, limits: UpstreamLimits) -> None:
        self._limits = limits
        self._guard = GuardedTransport(allow_private=limits.allow_private, max_response_bytes=limits.max_response_bytes)
        self._client = httpx2.AsyncClient(
            transport=self._guard, timeout=httpx2.Timeout(limits.timeout_seconds), trust_env=False
        )

    async def __aenter__(self) -> "_Http":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def send(self, request: httpx2.Request) -> httpx2.Response:
        try:
            with anyio.fail_after(self._limits.timeout_seconds):
                response = await self._client.send(request)
        except Exception as exc:
            raise upstream_error(exc, self._guard, None) from None
        return response

    async def metadata(self, url: str) -> httpx2.Response:
        return await self.send(create_oauth_metadata_request(url))


def _challenge(www_authenticate: str | None) -> httpx2.Response | None:
    # The SDK's challenge parsers read a response's header.
    return None if not www_authenticate else httpx2.Response(401, headers={"WWW-Authenticate": www_authenticate})


def _fallback_metadata(server_url: str) -> OAuthMetadata:
    """2025-03-26: no metadata anywhere, so the default endpoints at the server's origin."""
    parts = urlsplit(server_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return OAuthMetadata(
        issuer=origin,
        authorization_endpoint=f"{origin}/authorize",
        token_endpoint=f"{origin}/token",
        registration_endpoint=f"{origin}/register",
    )


async def discover(server_url: str, *, www_authenticate: str | None, limits: UpstreamLimits) -> AuthDiscovery:
    """Finds who issues tokens for `server_url` and what to ask for, starting from the server's 401 challenge
    when there was one."""
    challenge = _challenge(www_authenticate)
    metadata_url = extract_resource_metadata_from_www_auth(challenge) if challenge else None
    challenged_scope = extract_scope_from_www_auth(challenge) if challenge else None
    canonical = resource_url_from_server_url(server_url)
    async with _Http(limits) as http:
        resource_metadata: ProtectedResourceMetadata | None = None
        for url in build_protected_resource_metadata_discovery_urls(metadata_url, server_url):
            resource_metadata = await handle_protected_resource_response(await http.metadata(url))
            if resource_metadata is not None:
                break
        resource = canonical
        issuer: str | None = None
        if resource_metadata is not None:
            resource = str(resource_metadata.resource)
            if not check_resource_allowed(requested_resource=canonical, configured_resource=resource):
                raise UpstreamProtocolError(
                    f"The server's protected resource metadata is for another resource ({resource})"
                )
            issuer = str(resource_metadata.authorization_servers[0])
        metadata: OAuthMetadata | None = None
        for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, server_url):
            keep_looking, metadata = await handle_auth_metadata_response(await http.metadata(url))
            if metadata is not None or not keep_looking:
                break
    if metadata is None:
        if issuer is not None:
            raise UpstreamProtocolError(f"The authorization server {issuer} publishes no metadata")
        metadata = _fallback_metadata(server_url)
    elif issuer is not None:
        try:
            validate_metadata_issuer(metadata, issuer)
        except OAuthFlowError as exc:
            raise UpstreamProtocolError(str(exc)) from None
    methods = metadata.code_challenge_methods_supported
    if methods is not None and "S256" not in methods:
        raise UpstreamProtocolError("The authorization server does not support PKCE with S256; it cannot be used")
    return AuthDiscovery(
        server_url=server_url,
        resource=resource,
        authorization_server=metadata,
        resource_metadata=resource_metadata,
        scopes=_scopes(challenged_scope, resource_metadata, metadata),
    )


def _scopes(
    challenged: str | None, resource_metadata: ProtectedResourceMetadata | None, metadata: OAuthMetadata
) -> list[str] | None:
    if challenged is not None:
        scopes = challenged.split()
    elif resource_metadata is not None and resource_metadata.scopes_supported is not None:
        scopes = list(resource_metadata.scopes_supported)
    else:
        return None
    # We refresh: ask for a refresh token where the authorization server wants offline_access for it.
    if OFFLINE_ACCESS in (metadata.scopes_supported or []) and OFFLINE_ACCESS not in scopes:
        scopes.append(OFFLINE_ACCESS)
    return scopes


def _token_endpoint_auth_method(metadata: OAuthMetadata, *, has_secret: bool) -> str:
    # RFC 8414 §2: an authorization server that lists no methods supports client_secret_basic.
    supported = metadata.token_endpoint_auth_methods_supported or ["client_secret_basic"]
    if not has_secret and (metadata.token_endpoint_auth_methods_supported is None or PUBLIC_CLIENT in supported):
        return PUBLIC_CLIENT
    for method in ("client_secret_basic", "client_secret_post"):
        if method in supported:
            return method
    return PUBLIC_CLIENT


def _metadata_document_usable(url: str, limits: UpstreamLimits) -> bool:
    return is_valid_client_metadata_url(url) or (limits.allow_private and url.startswith("http://"))


async def register_client(
    discovery: AuthDiscovery,
    *,
    redirect_uri: str,
    metadata_document_url: str,
    preregistered: "ClientCredentials | None",
    limits: UpstreamLimits,
) -> ClientCredentials:
    """Our client identity at the server's authorization server, in the spec's order of preference:
    credentials the admin registered, then our metadata document's URL, then dynamic registration."""
    metadata = discovery.authorization_server
    if preregistered is not None:
        method = preregistered.token_endpoint_auth_method or _token_endpoint_auth_method(
            metadata, has_secret=preregistered.client_secret is not None
        )
        return replace(preregistered, token_endpoint_auth_method=method, how=RegistrationMethod.preregistered)
    if metadata.client_id_metadata_document_supported and _metadata_document_usable(metadata_document_url, limits):
        return ClientCredentials(
            client_id=metadata_document_url,
            token_endpoint_auth_method=PUBLIC_CLIENT,
            how=RegistrationMethod.metadata_document,
        )
    if metadata.registration_endpoint is None:
        raise UpstreamProtocolError(
            "The authorization server offers neither dynamic registration nor Client ID Metadata Documents: "
            "register a client there and enter its client id"
        )
    client_metadata = OAuthClientMetadata(
        redirect_uris=[redirect_uri],
        client_name=CLIENT_NAME,
        grant_types=GRANT_TYPES,
        response_types=["code"],
        token_endpoint_auth_method=_token_endpoint_auth_method(metadata, has_secret=False),
        application_type="web",
        scope=" ".join(discovery.scopes) if discovery.scopes else None,
    )
    request = create_client_registration_request(metadata, client_metadata, discovery.server_url)
    async with _Http(limits) as http:
        response = await http.send(request)
        try:
            information = await handle_registration_response(response)
            check_registration_usable(information)
        except OAuthRegistrationError as exc:
            raise UpstreamProtocolError(clip_message(f"Client registration failed: {exc}")) from None
    return ClientCredentials(
        client_id=information.client_id or "",
        client_secret=information.client_secret,
        token_endpoint_auth_method=information.token_endpoint_auth_method or client_metadata.token_endpoint_auth_method,
        how=RegistrationMethod.dynamic,
    )


def authorization_request(
    discovery: AuthDiscovery, client: ClientCredentials, *, redirect_uri: str, state: str, scopes: list[str] | None
) -> tuple[str, str]:
    """The URL to send the admin's browser to, and the PKCE code verifier to keep until the callback."""
    code_verifier = generate_token(PKCE_VERIFIER_LENGTH)
    requested = scopes if scopes is not None else discovery.scopes
    url: str = prepare_grant_uri(
        str(discovery.authorization_server.authorization_endpoint),
        client.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=" ".join(requested) if requested else None,
        state=state,
        code_challenge=create_s256_code_challenge(code_verifier),
        code_challenge_method="S256",
        resource=discovery.resource,
    )
    return url, code_verifier


async def _token_request(
    discovery: AuthDiscovery, client: ClientCredentials, limits: UpstreamLimits, **parameters: str
) -> OAuthToken:
    endpoint = str(discovery.authorization_server.token_endpoint)
    method = client.token_endpoint_auth_method or PUBLIC_CLIENT
    if method == "client_secret_basic":
        # Authlib adds client_id to the body for the other methods; some servers want it with Basic too.
        parameters = {**parameters, "client_id": client.client_id}
    body: str = prepare_token_request(body="", resource=discovery.resource, **parameters)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    client_auth = ClientAuth(client.client_id, client.client_secret, method)
    endpoint, headers, body = client_auth.prepare("POST", endpoint, headers, body)
    async with _Http(limits) as http:
        response = await http.send(httpx2.Request("POST", endpoint, headers=headers, content=body.encode()))
        content = await response.aread()
    if response.status_code != 200:
        try:
            error = orjson.loads(content)
        except orjson.JSONDecodeError:
            error = None
        code = error.get("error") if isinstance(error, dict) else None
        description = error.get("error_description") if isinstance(error, dict) else None
        if code == "invalid_grant" and parameters["grant_type"] == "refresh_token":
            raise UpstreamGrantRevoked("The remote server's authorization was revoked or expired; connect it again")
        detail = f"{code}: {description}" if description else str(code or f"HTTP {response.status_code}")
        raise UpstreamUnauthorized(clip_message(f"The authorization server refused the token request ({detail})"))
    try:
        return OAuthToken.model_validate_json(content)
    except ValidationError:
        raise UpstreamProtocolError("The authorization server's token response is not valid") from None


def _token_set(token: OAuthToken, previous_refresh_token: str | None = None) -> TokenSet:
    return TokenSet(
        access_token=token.access_token,
        # An authorization server that does not rotate refresh tokens leaves the old one valid.
        refresh_token=token.refresh_token or previous_refresh_token,
        expires_at=None if token.expires_in is None else datetime.now(UTC) + timedelta(seconds=token.expires_in),
        scope=token.scope,
    )


async def exchange_code(
    discovery: AuthDiscovery,
    client: ClientCredentials,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    limits: UpstreamLimits,
) -> TokenSet:
    token = await _token_request(
        discovery,
        client,
        limits,
        grant_type="authorization_code",
        code=code,
        code_verifier=code_verifier,
        redirect_uri=redirect_uri,
    )
    return _token_set(token)


async def refresh(
    discovery: AuthDiscovery, client: ClientCredentials, *, refresh_token: str, limits: UpstreamLimits
) -> TokenSet:
    """New tokens for a refresh token; `UpstreamGrantRevoked` when the authorization server refuses it."""
    token = await _token_request(discovery, client, limits, grant_type="refresh_token", refresh_token=refresh_token)
    return _token_set(token, previous_refresh_token=refresh_token)
