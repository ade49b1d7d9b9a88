"""The authorization server of the MCP gateway (OAuth 2.1 as the MCP authorization specification profiles it).

Public clients only, authorization code with PKCE S256, the `resource` indicator (RFC 8707) naming one
workspace's MCP URL, refresh tokens that rotate (a second use revokes the family), RFC 7009 revocation and RFC
7591 registration beside Client ID Metadata Documents. Authlib supplies the protocol's pieces (error types and
their bodies, the S256 transform, metadata validation); the flow itself runs here on the async session, since
Authlib's AuthorizationServer calls its storage synchronously.
"""

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedGrantTypeError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.errors import NotFound, RateLimited
from platform_server.gateway.executor import tool_executor
from platform_server.gateway.repository import WorkspaceToolsRepository
from platform_server.ids import is_valid_id
from platform_server.oauth_server.clients import (
    MetadataDocumentFetcher,
    is_metadata_document_url,
    parse_client_metadata,
    redirect_uri_matches,
)
from platform_server.oauth_server.models import (
    ClientRegistration,
    OAuthAuthorizationCode,
    OAuthClient,
    OAuthConsent,
    OAuthToken,
    TokenKind,
)
from platform_server.oauth_server.repository import AccessGrant, ConnectedApp, OAuthRepository
from platform_server.security import constant_time_equals, hash_token, random_token
from platform_server.teams.models import Role

MCP_PATH = "/api/workspaces/{workspace_id}/mcp"
AUTHORIZE_PATH = "/settings/oauth/authorize"
TOKEN_PATH = "/oauth/token"  # noqa: S105 (a path, not a secret)
REGISTER_PATH = "/oauth/register"
REVOKE_PATH = "/oauth/revoke"
# Listing tools and calling read-only ones; calling the workspace's other (writing) tools too.
SCOPE_READ = "tools:read"
SCOPE_WRITE = "tools:write"
ALL_SCOPES = (SCOPE_READ, SCOPE_WRITE)
ACCESS_TOKEN_PREFIX = "pmat_"  # noqa: S105 (a prefix, not a secret)
REFRESH_TOKEN_PREFIX = "pmrt_"  # noqa: S105 (a prefix, not a secret)
CODE_LIFETIME = timedelta(minutes=5)
METADATA_DOCUMENT_CACHE = timedelta(hours=1)
# last_used_at of a connected app moves at most this often, so that a busy client costs no write per call.
LAST_USED_INTERVAL = timedelta(minutes=1)
_MAX_PARAM = 2000


class InvalidTarget(OAuth2Error):  # type: ignore[misc]
    """RFC 8707: the resource is not one this server issues tokens for."""

    error = "invalid_target"


class InvalidToken(Exception):
    """The bearer token is unknown, expired, revoked or for another resource (answered 401)."""


def mcp_url(settings: Settings, workspace_id: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{MCP_PATH.format(workspace_id=workspace_id)}"


def workspace_of_resource(settings: Settings, resource: str | None) -> str:
    """The workspace whose MCP URL the resource indicator names; anything else is an invalid target."""
    prefix, suffix = mcp_url(settings, "\0").split("\0")
    if resource is None:
        raise InvalidTarget(description=f"The resource parameter is required: the MCP URL, {prefix}<id>{suffix}")
    if resource.startswith(prefix) and resource.endswith(suffix):
        workspace_id = resource[len(prefix) : len(resource) - len(suffix)]
        if is_valid_id(workspace_id):
            return workspace_id
    raise InvalidTarget(description=f"The resource must be a workspace MCP URL of this server: {prefix}<id>{suffix}")


def parse_scope(requested: str | None) -> str:
    """The requested scopes in canonical order; none requested means every scope."""
    if requested is None or not requested.strip():
        return " ".join(ALL_SCOPES)
    scopes = set(requested.split())
    if not scopes <= set(ALL_SCOPES):
        raise InvalidScopeError(description=f"Supported scopes: {' '.join(ALL_SCOPES)}")
    # Writing implies reading: the tools of a workspace are listed to anyone who may call any of them.
    scopes.add(SCOPE_READ)
    return " ".join(scope for scope in ALL_SCOPES if scope in scopes)


def server_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 8414 authorization server metadata, also served as OpenID-style discovery."""
    base = settings.PUBLIC_BASE_URL
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
        "token_endpoint": f"{base}{TOKEN_PATH}",
        "registration_endpoint": f"{base}{REGISTER_PATH}",
        "revocation_endpoint": f"{base}{REVOKE_PATH}",
        "scopes_supported": list(ALL_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
        "service_documentation": f"{base}/docs",
    }


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request: what the consent page shows and what approving it issues."""

    client: OAuthClient
    redirect_uri: str
    state: str | None
    code_challenge: str
    resource: str
    workspace_id: str
    scope: str

    @property
    def read_only(self) -> bool:
        return SCOPE_WRITE not in self.scope.split()

    def read_only_version(self) -> "AuthorizationRequest":
        """The same request narrowed by the person to read-only tools."""
        return replace(self, scope=SCOPE_READ)

    def form_fields(self) -> dict[str, str]:
        """The request as the consent form carries it back (re-validated when posted)."""
        fields = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
            "resource": self.resource,
            "scope": self.scope,
        }
        if self.state is not None:
            fields["state"] = self.state
        return fields


@dataclass(frozen=True, slots=True)
class ConsentTool:
    name: str
    title: str
    read_only: bool


@dataclass(frozen=True, slots=True)
class ConsentPage:
    request: AuthorizationRequest
    workspace_name: str
    # The tools the token could call today (the workspace's enablements decide at every call).
    tools: list[ConsentTool]
    # Writing tools of the workspace that a read-only grant leaves out.
    withheld_tools: int


class PageError(Exception):
    """An authorization request that cannot be answered at its redirect URI (unknown client, redirect URI not
    registered): RFC 6749 §4.1.2.1 says tell the person, never redirect."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _param(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and len(value) > _MAX_PARAM:
        raise InvalidRequestError(description=f"The {name} parameter is too long")
    return value or None


def _valid_challenge(challenge: str | None) -> bool:
    # base64url of a SHA-256 digest, unpadded (RFC 7636 §4.2).
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    return challenge is not None and len(challenge) == 43 and set(challenge) <= allowed


class OAuthServerService:
    async def register(
        self, session: AsyncSession, settings: Settings, metadata: object, address: str
    ) -> dict[str, Any]:
        """RFC 7591 dynamic registration of a public client; rate limited per address."""
        now = utcnow()
        repository = OAuthRepository(session)
        await repository.delete_expired_clients(now)
        if await repository.registrations_since(address, now - timedelta(hours=1)) >= (
            settings.OAUTH_REGISTRATIONS_PER_HOUR
        ):
            raise RateLimited(
                "Too many client registrations from this address: try again within the hour",
                headers={"Retry-After": "3600"},
            )
        parsed = parse_client_metadata(metadata)
        client = OAuthClient(
            client_id=f"mcp_{random_token(24)}",
            registration=ClientRegistration.dynamic,
            client_name=parsed.client_name,
            client_uri=parsed.client_uri,
            redirect_uris=parsed.redirect_uris,
            registered_from=address[:64],
            created_at=now,
            expires_at=now + timedelta(seconds=settings.OAUTH_UNUSED_CLIENT_TTL_SECONDS),
        )
        repository.add(client)
        await session.flush()
        body: dict[str, Any] = {
            "client_id": client.client_id,
            "client_id_issued_at": int(now.timestamp()),
            "client_name": client.client_name,
            "redirect_uris": client.redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": " ".join(ALL_SCOPES),
        }
        if client.client_uri is not None:
            body["client_uri"] = client.client_uri
        return body

    async def client(self, session: AsyncSession, settings: Settings, client_id: str) -> OAuthClient:
        """A registered client, or one whose metadata document this fetches (and caches) now."""
        now = utcnow()
        repository = OAuthRepository(session)
        client = await repository.client(client_id, now)
        document = is_metadata_document_url(client_id) or (
            settings.OAUTH_CLIENT_METADATA_ALLOW_PRIVATE and client_id.startswith("http://")
        )
        if client is not None and (
            client.registration == ClientRegistration.dynamic
            or (client.fetched_at is not None and client.fetched_at > now - METADATA_DOCUMENT_CACHE)
        ):
            return client
        if not document:
            raise InvalidClientError(description="Unknown client_id: register the client first")
        fetcher = MetadataDocumentFetcher(
            allow_private=settings.OAUTH_CLIENT_METADATA_ALLOW_PRIVATE, ca_file=settings.OAUTH_CLIENT_METADATA_CA_FILE
        )
        metadata = await fetcher.fetch(client_id)
        if client is None:
            client = OAuthClient(client_id=client_id, registration=ClientRegistration.metadata_document, created_at=now)
            repository.add(client)
        client.client_name = metadata.client_name
        client.client_uri = metadata.client_uri
        client.redirect_uris = metadata.redirect_uris
        client.fetched_at = now
        await session.flush()
        return client

    async def validate_authorization(
        self, session: AsyncSession, settings: Settings, params: dict[str, str]
    ) -> AuthorizationRequest:
        """Raises PageError while the redirect URI is not trusted yet, then OAuth2Error carrying the redirect
        URI (the error goes back to the client)."""
        client_id = _param(params, "client_id")
        if client_id is None:
            raise PageError("The request names no client (client_id is missing).")
        try:
            client = await self.client(session, settings, client_id)
        except OAuth2Error as exc:
            raise PageError(f"This app cannot sign in here: {exc.description}") from None
        redirect_uri = _param(params, "redirect_uri")
        if redirect_uri is None and len(client.redirect_uris) == 1:
            redirect_uri = client.redirect_uris[0]
        if redirect_uri is None or not redirect_uri_matches(client.redirect_uris, redirect_uri):
            raise PageError("The app asked to send the answer to an address it did not register (redirect_uri).")
        state = _param(params, "state")
        try:
            if params.get("response_type") != "code":
                raise UnsupportedResponseTypeError(params.get("response_type", "")[:40])
            if params.get("code_challenge_method") != "S256":
                raise InvalidRequestError(description="PKCE is required: code_challenge_method must be S256")
            code_challenge = _param(params, "code_challenge")
            if not _valid_challenge(code_challenge):
                raise InvalidRequestError(description="code_challenge must be the 43-character S256 challenge")
            assert code_challenge is not None
            resource = _param(params, "resource")
            workspace_id = workspace_of_resource(settings, resource)
            assert resource is not None
            scope = parse_scope(_param(params, "scope"))
        except OAuth2Error as exc:
            exc.redirect_uri = redirect_uri
            exc.state = state
            raise
        return AuthorizationRequest(client, redirect_uri, state, code_challenge, resource, workspace_id, scope)

    async def workspace_name(self, session: AsyncSession, principal: Principal, request: AuthorizationRequest) -> str:
        """The workspace asked for, if the signed-in person's team has it."""
        workspace = await OAuthRepository(session).workspace(request.workspace_id)
        if workspace is None or workspace.team_id != principal.team_id:
            raise PageError(
                "The workspace this app asks for does not exist in your team. Sign in with a key of the team "
                "that owns it, or check the MCP URL you gave the app."
            )
        return workspace.name

    async def consent_page(
        self, session: AsyncSession, principal: Principal, request: AuthorizationRequest
    ) -> ConsentPage:
        """What the person approves: the client, the workspace, and the tools the token could call there."""
        workspace_name = await self.workspace_name(session, principal, request)
        tools = await WorkspaceToolsRepository(session, principal.team_id).get(request.workspace_id)
        listed = tool_executor.enabled_tools(tools) if tools is not None else []
        consent_tools = [
            ConsentTool(
                name=tool.name,
                title=tool.title or tool.name,
                read_only=bool(tool.annotations is not None and tool.annotations.read_only_hint),
            )
            for tool in listed
        ]
        callable_tools = [tool for tool in consent_tools if tool.read_only or not request.read_only]
        return ConsentPage(request, workspace_name, callable_tools, len(consent_tools) - len(callable_tools))

    async def remembered(self, session: AsyncSession, principal: Principal, request: AuthorizationRequest) -> bool:
        """Whether the person already approved this client for this workspace with at least these scopes."""
        consent = await OAuthRepository(session).consent(request.client.id, principal.user_id, request.workspace_id)
        return consent is not None and set(request.scope.split()) <= set(consent.scope.split())

    async def approve(
        self, session: AsyncSession, settings: Settings, principal: Principal, request: AuthorizationRequest
    ) -> str:
        """Records (or widens) the consent and answers the redirect carrying a new code."""
        await self.workspace_name(session, principal, request)
        repository = OAuthRepository(session)
        now = utcnow()
        consent = await repository.consent(request.client.id, principal.user_id, request.workspace_id)
        if consent is None:
            consent = OAuthConsent(
                client_row_id=request.client.id,
                team_id=principal.team_id,
                user_id=principal.user_id,
                workspace_id=request.workspace_id,
                scope=request.scope,
                created_at=now,
            )
            repository.add(consent)
        else:
            consent.scope = parse_scope(f"{consent.scope} {request.scope}")
        if request.client.registration == ClientRegistration.dynamic:
            # A client someone authorizes is in use: it stays registered.
            request.client.expires_at = now + timedelta(seconds=settings.OAUTH_UNUSED_CLIENT_TTL_SECONDS)
        await session.flush()
        code = random_token()
        repository.add(
            OAuthAuthorizationCode(
                code_hash=hash_token(code),
                consent_id=consent.id,
                redirect_uri=request.redirect_uri,
                resource=request.resource,
                scope=request.scope,
                code_challenge=request.code_challenge,
                expires_at=now + CODE_LIFETIME,
            )
        )
        await session.flush()
        return self._redirect(settings, request, code=code)

    def deny(self, settings: Settings, request: AuthorizationRequest) -> str:
        error = AccessDeniedError(description="The person declined to authorize this app")
        return error_redirect(settings, error, request.redirect_uri, request.state)

    def _redirect(self, settings: Settings, request: AuthorizationRequest, **params: str) -> str:
        values = [*params.items()]
        if request.state is not None:
            values.append(("state", request.state))
        # RFC 9207: the client checks who answered.
        values.append(("iss", settings.PUBLIC_BASE_URL))
        return str(add_params_to_uri(request.redirect_uri, values))

    async def token(self, session: AsyncSession, settings: Settings, form: dict[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return await self._exchange_code(session, settings, form)
        if grant_type == "refresh_token":
            return await self._refresh(session, settings, form)
        raise UnsupportedGrantTypeError((grant_type or "")[:40])

    async def _exchange_code(self, session: AsyncSession, settings: Settings, form: dict[str, str]) -> dict[str, Any]:
        code, client_id, verifier = _param(form, "code"), _param(form, "client_id"), _param(form, "code_verifier")
        if code is None or client_id is None:
            raise InvalidRequestError(description="code and client_id are required")
        if verifier is None or not 43 <= len(verifier) <= 128:
            raise InvalidRequestError(description="code_verifier (43 to 128 characters) is required")
        repository = OAuthRepository(session)
        now = utcnow()
        stored = await repository.code_for_update(hash_token(code))
        if stored is None or stored.expires_at <= now:
            raise InvalidGrantError(description="The authorization code is invalid or expired")
        consent = await repository.consent_by_id(stored.consent_id)
        client = await repository.client_by_row(consent.client_row_id) if consent is not None else None
        if consent is None or client is None or client.client_id != client_id:
            raise InvalidGrantError(description="The authorization code was issued to another client")
        if not await repository.claim_code(stored.id, now):
            # RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
            await repository.revoke_family(stored.id, now)
            raise InvalidGrantError(description="The authorization code was already used")
        # OAuth 2.1 lets the client leave it out (PKCE binds the code to it); sent, it must be the same.
        redirect_uri = form.get("redirect_uri")
        if redirect_uri is not None and redirect_uri != stored.redirect_uri:
            raise InvalidGrantError(description="redirect_uri does not match the authorization request")
        if not constant_time_equals(create_s256_code_challenge(verifier), stored.code_challenge):
            raise InvalidGrantError(description="The code_verifier does not match the code_challenge")
        resource = form.get("resource")
        if resource is not None and resource != stored.resource:
            raise InvalidTarget(description="The resource differs from the one authorized")
        return await self._issue(
            session, settings, consent, family_id=stored.id, scope=stored.scope, resource=stored.resource
        )

    async def _refresh(self, session: AsyncSession, settings: Settings, form: dict[str, str]) -> dict[str, Any]:
        presented, client_id = _param(form, "refresh_token"), _param(form, "client_id")
        if presented is None or client_id is None:
            raise InvalidRequestError(description="refresh_token and client_id are required")
        repository = OAuthRepository(session)
        now = utcnow()
        stored = await repository.token_for_update(hash_token(presented))
        if stored is None or stored.kind != TokenKind.refresh:
            raise InvalidGrantError(description="The refresh token is invalid")
        consent = await repository.consent_by_id(stored.consent_id)
        client = await repository.client_by_row(consent.client_row_id) if consent is not None else None
        if consent is None or client is None or client.client_id != client_id:
            raise InvalidGrantError(description="The refresh token was issued to another client")
        if stored.revoked_at is not None or stored.expires_at <= now:
            raise InvalidGrantError(description="The refresh token is revoked or expired")
        resource = form.get("resource")
        if resource is not None and resource != stored.resource:
            raise InvalidTarget(description="The resource differs from the one authorized")
        scope = stored.scope
        requested = _param(form, "scope")
        if requested is not None:
            narrowed = parse_scope(requested)
            if not set(narrowed.split()) <= set(stored.scope.split()):
                raise InvalidScopeError(description="A refresh cannot widen the granted scope")
            scope = narrowed
        if not await repository.rotate(stored.id, now):
            # Reuse after rotation: one of the two holders is not the client. End the whole family.
            await repository.revoke_family(stored.family_id, now)
            raise InvalidGrantError(description="The refresh token was already used; its tokens are revoked")
        return await self._issue(
            session, settings, consent, family_id=stored.family_id, scope=scope, resource=stored.resource
        )

    async def _issue(
        self,
        session: AsyncSession,
        settings: Settings,
        consent: OAuthConsent,
        *,
        family_id: str,
        scope: str,
        resource: str,
    ) -> dict[str, Any]:
        now = utcnow()
        access, refresh = ACCESS_TOKEN_PREFIX + random_token(), REFRESH_TOKEN_PREFIX + random_token()
        repository = OAuthRepository(session)
        for secret, kind, ttl in (
            (access, TokenKind.access, settings.OAUTH_ACCESS_TOKEN_TTL_SECONDS),
            (refresh, TokenKind.refresh, settings.OAUTH_REFRESH_TOKEN_TTL_SECONDS),
        ):
            repository.add(
                OAuthToken(
                    token_hash=hash_token(secret),
                    kind=kind,
                    consent_id=consent.id,
                    family_id=family_id,
                    scope=scope,
                    resource=resource,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )
        await session.flush()
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": settings.OAUTH_ACCESS_TOKEN_TTL_SECONDS,
            "refresh_token": refresh,
            "scope": scope,
        }

    async def revoke(self, session: AsyncSession, form: dict[str, str]) -> None:
        """RFC 7009: revokes the token's whole family (its refresh and access tokens); unknown tokens are not
        an error, so the answer tells nothing about what exists."""
        presented, client_id = _param(form, "token"), _param(form, "client_id")
        if presented is None:
            raise InvalidRequestError(description="token is required")
        repository = OAuthRepository(session)
        stored = await repository.token_for_update(hash_token(presented))
        if stored is None:
            return
        consent = await repository.consent_by_id(stored.consent_id)
        client = await repository.client_by_row(consent.client_row_id) if consent is not None else None
        if client is None or client.client_id != client_id:
            raise InvalidClientError(description="The token was issued to another client")
        await repository.revoke_family(stored.family_id, utcnow())

    async def principal_for(
        self, session: AsyncSession, settings: Settings, token: str, workspace_id: str
    ) -> Principal:
        """The person an access token acts for at this workspace's MCP endpoint, with the role they have now."""
        repository = OAuthRepository(session)
        grant: AccessGrant | None = await repository.access_grant(hash_token(token))
        now = utcnow()
        if grant is None:
            raise InvalidToken("The access token is invalid or revoked")
        if grant.expires_at <= now:
            raise InvalidToken("The access token has expired")
        if grant.workspace_id != workspace_id or grant.resource != mcp_url(settings, workspace_id):
            raise InvalidToken("The access token was issued for another resource")
        if grant.last_used_at is None or grant.last_used_at < now - LAST_USED_INTERVAL:
            await repository.touch_consent(grant.consent_id, now)
        return Principal(
            user_id=grant.user_id,
            team_id=grant.team_id,
            role=Role(grant.role),
            api_key_id=None,
            oauth_client_id=grant.client_row_id,
            oauth_scopes=frozenset(grant.scope.split()),
        )

    async def connected_apps(self, session: AsyncSession, principal: Principal) -> list[ConnectedApp]:
        return list(await OAuthRepository(session).connected_apps(principal.team_id, principal.user_id))

    async def disconnect(self, session: AsyncSession, principal: Principal, consent_id: str) -> None:
        """Revokes a connected app: its consent and every token issued under it."""
        repository = OAuthRepository(session)
        consent = await repository.consent_by_id(consent_id) if is_valid_id(consent_id) else None
        if consent is None or (consent.team_id, consent.user_id) != (principal.team_id, principal.user_id):
            raise NotFound("There is no such connected app", details={"id": consent_id[:40]})
        await repository.delete_consent(consent)
        await session.flush()


def error_redirect(settings: Settings, error: OAuth2Error, redirect_uri: str, state: str | None) -> str:
    params = [("error", error.error)]
    if error.description:
        params.append(("error_description", error.description))
    if state is not None:
        params.append(("state", state))
    params.append(("iss", settings.PUBLIC_BASE_URL))
    return str(add_params_to_uri(redirect_uri, params))


def redirect_origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"


oauth_server_service = OAuthServerService()
