"""A remote MCP server's OAuth grant as the token manager sees it: our client identity at its authorization
server (sealed on the server's row) and the refresh, answered in the native providers' terms so that the one
token manager (single flight, rotation committed at once, a refused grant marks the integration expired)
serves both."""

import orjson

from platform_server.config import Settings
from platform_server.integrations.oauth import OAuthFailure, TokenSet
from platform_server.integrations.remote_mcp import auth
from platform_server.integrations.remote_mcp.models import RemoteMcpServer
from platform_server.integrations.remote_mcp.upstream import UpstreamError, UpstreamGrantRevoked, UpstreamLimits
from platform_server.security import DecryptionError, Encryptor


def upstream_limits(settings: Settings) -> UpstreamLimits:
    return UpstreamLimits(
        timeout_seconds=settings.REMOTE_MCP_TIMEOUT_SECONDS,
        max_response_bytes=settings.REMOTE_MCP_MAX_RESPONSE_BYTES,
        allow_private=settings.REMOTE_MCP_ALLOW_PRIVATE,
    )


def _client_associated_data(integration_id: str) -> str:
    return f"remote_mcp_servers:{integration_id}:oauth_client"


def seal_client(encryptor: Encryptor, integration_id: str, client: auth.ClientCredentials) -> str:
    return encryptor.encrypt(orjson.dumps(client.to_dict()).decode(), _client_associated_data(integration_id))


def open_client(encryptor: Encryptor, server: RemoteMcpServer) -> auth.ClientCredentials:
    """`DecryptionError` when the row was altered or its key is gone."""
    if server.oauth_client_encrypted is None:
        raise DecryptionError("no OAuth client is stored")
    sealed = encryptor.decrypt(server.oauth_client_encrypted, _client_associated_data(server.integration_id))
    return auth.ClientCredentials.from_dict(orjson.loads(sealed))


def as_token_set(tokens: auth.TokenSet) -> TokenSet:
    return TokenSet(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        scopes=tokens.scope.split() if tokens.scope else None,
    )


async def refresh_grant(
    settings: Settings, encryptor: Encryptor, server: RemoteMcpServer, refresh_token: str
) -> TokenSet | None:
    """New tokens, or None when the server holds no OAuth grant to refresh. `OAuthFailure`: `invalid_grant`
    (not transient) when the authorization server refused the refresh token or our stored client can no
    longer be read; transient for anything else (the server down, an unexpected answer)."""
    if server.oauth_discovery is None:
        return None
    try:
        client = open_client(encryptor, server)
    except DecryptionError:
        raise OAuthFailure(
            "invalid_client", "the stored client credentials cannot be decrypted", transient=False
        ) from None
    try:
        tokens = await auth.refresh(
            auth.AuthDiscovery.from_dict(server.oauth_discovery),
            client,
            refresh_token=refresh_token,
            limits=upstream_limits(settings),
        )
    except UpstreamGrantRevoked as exc:
        raise OAuthFailure("invalid_grant", exc.message, transient=False) from None
    except UpstreamError as exc:
        raise OAuthFailure("refresh_failed", exc.message, transient=True) from None
    return as_token_set(tokens)
