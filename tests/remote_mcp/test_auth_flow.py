"""Authorization to a remote MCP server as an MCP client, end to end against a Python SDK server behind its own
authorization server: discovery from the 401, registration by Client ID Metadata Document, dynamic
registration or pre-registered credentials, the authorize redirect, the code exchange, a call with the token,
refresh with rotation, and a revoked grant."""

import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from platform_server.integrations.remote_mcp.auth import (
    CALLBACK_PATH,
    CLIENT_METADATA_PATH,
    AuthDiscovery,
    ClientCredentials,
    RegistrationMethod,
    TokenSet,
    authorization_request,
    discover,
    exchange_code,
    refresh,
    register_client,
)
from platform_server.integrations.remote_mcp.upstream import (
    Transport,
    UpstreamGrantRevoked,
    UpstreamLimits,
    UpstreamProtocolError,
    UpstreamTarget,
    UpstreamUnauthorized,
    call_tool,
    list_tools,
)
from tests.remote_mcp.upstreams import (
    PREREGISTERED_CLIENT_ID,
    PREREGISTERED_SECRET,
    SCOPE,
    ProtectedServer,
    oauth_protected_server,
    serve_asgi,
)

LIMITS = UpstreamLimits(allow_private=True, timeout_seconds=10)


@pytest.fixture(scope="module")
def server() -> Iterator[ProtectedServer]:
    with oauth_protected_server() as protected:
        yield protected


@pytest.fixture(scope="module")
def server_without_metadata_documents() -> Iterator[ProtectedServer]:
    with oauth_protected_server(metadata_documents=False) as protected:
        yield protected


def _target(server: ProtectedServer, tokens: TokenSet | None = None) -> UpstreamTarget:
    headers = {} if tokens is None else {"Authorization": f"Bearer {tokens.access_token}"}
    return UpstreamTarget(url=server.url, transport=Transport.streamable_http, headers=headers)


async def _challenge(server: ProtectedServer) -> UpstreamUnauthorized:
    with pytest.raises(UpstreamUnauthorized) as raised:
        await list_tools(_target(server), limits=LIMITS)
    return raised.value


async def _connect(
    server: ProtectedServer, *, preregistered: ClientCredentials | None = None
) -> tuple[AuthDiscovery, ClientCredentials, TokenSet]:
    """The whole flow, as the product runs it across two requests: discover and register, send the admin to
    the authorization URL, then exchange the callback's code."""
    refusal = await _challenge(server)
    discovery = await discover(server.url, www_authenticate=refusal.www_authenticate, limits=LIMITS)
    redirect_uri = server.base_url + CALLBACK_PATH
    client = await register_client(
        discovery,
        redirect_uri=redirect_uri,
        metadata_document_url=server.base_url + CLIENT_METADATA_PATH,
        preregistered=preregistered,
        limits=LIMITS,
    )
    state = secrets.token_urlsafe(16)
    url, code_verifier = authorization_request(discovery, client, redirect_uri=redirect_uri, state=state, scopes=None)
    code, returned_state = await server.approve(url)
    assert returned_state == state
    tokens = await exchange_code(
        discovery, client, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri, limits=LIMITS
    )
    return discovery, client, tokens


async def test_the_401_challenge_leads_to_the_authorization_server(server: ProtectedServer) -> None:
    refusal = await _challenge(server)
    assert refusal.www_authenticate is not None
    assert "resource_metadata=" in refusal.www_authenticate
    discovery = await discover(server.url, www_authenticate=refusal.www_authenticate, limits=LIMITS)
    assert discovery.resource == server.url
    assert str(discovery.authorization_server.issuer).rstrip("/") == server.base_url
    assert discovery.resource_metadata is not None
    assert discovery.scopes == [SCOPE, "offline_access"]


async def test_client_id_metadata_document_flow(server: ProtectedServer) -> None:
    discovery, client, tokens = await _connect(server)
    assert client.how is RegistrationMethod.metadata_document
    assert client.client_id == server.base_url + CLIENT_METADATA_PATH
    assert client.client_secret is None
    # The authorization server fetched our document (served by our metadata route) and accepted its redirect URI.
    registered = server.authorization_server.clients[client.client_id]
    assert [str(uri) for uri in registered.redirect_uris or []] == [server.base_url + CALLBACK_PATH]
    assert tokens.refresh_token is not None
    assert tokens.expires_at is not None
    result = await call_tool(_target(server, tokens), "echo", {"text": "authorized"}, limits=LIMITS)
    assert not result.is_error
    # RFC 8707: the resource went with the authorization and the token request.
    assert server.authorization_server.authorizations[-1].resource == discovery.resource
    assert server.authorization_server.token_resources[-1] == discovery.resource


async def test_the_authorization_url_carries_pkce_s256_resource_and_scope(server: ProtectedServer) -> None:
    discovery = await discover(server.url, www_authenticate=None, limits=LIMITS)
    client = ClientCredentials(client_id="anyone", how=RegistrationMethod.dynamic)
    url, code_verifier = authorization_request(
        discovery, client, redirect_uri="https://platform.example/cb", state="s1", scopes=["a", "b"]
    )
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] != code_verifier
    assert len(code_verifier) >= 43
    assert query["resource"] == server.url
    assert query["scope"] == "a b"
    assert query["state"] == "s1"
    default_url, _ = authorization_request(discovery, client, redirect_uri="https://x/cb", state="s2", scopes=None)
    assert parse_qs(urlsplit(default_url).query)["scope"] == [f"{SCOPE} offline_access"]


async def test_dynamic_registration_flow(server_without_metadata_documents: ProtectedServer) -> None:
    server = server_without_metadata_documents
    _, client, tokens = await _connect(server)
    assert client.how is RegistrationMethod.dynamic
    assert client.client_id in server.authorization_server.clients
    assert not client.client_id.startswith("http")
    tools = await list_tools(_target(server, tokens), limits=LIMITS)
    assert tools


async def test_preregistered_credentials_flow(server: ProtectedServer) -> None:
    given = ClientCredentials(client_id=PREREGISTERED_CLIENT_ID, client_secret=PREREGISTERED_SECRET)
    _, client, tokens = await _connect(server, preregistered=given)
    assert client.how is RegistrationMethod.preregistered
    assert client.client_id == PREREGISTERED_CLIENT_ID
    assert client.token_endpoint_auth_method in {"client_secret_basic", "client_secret_post"}
    assert await list_tools(_target(server, tokens), limits=LIMITS)


async def test_a_wrong_code_verifier_is_refused(server: ProtectedServer) -> None:
    refusal = await _challenge(server)
    discovery = await discover(server.url, www_authenticate=refusal.www_authenticate, limits=LIMITS)
    redirect_uri = server.base_url + CALLBACK_PATH
    client = await register_client(
        discovery,
        redirect_uri=redirect_uri,
        metadata_document_url=server.base_url + CLIENT_METADATA_PATH,
        preregistered=None,
        limits=LIMITS,
    )
    url, _ = authorization_request(discovery, client, redirect_uri=redirect_uri, state="s", scopes=None)
    code, _ = await server.approve(url)
    with pytest.raises(UpstreamUnauthorized, match="refused the token request"):
        await exchange_code(
            discovery, client, code=code, code_verifier="x" * 64, redirect_uri=redirect_uri, limits=LIMITS
        )


async def test_refresh_rotates_and_a_spent_refresh_token_is_revoked(server: ProtectedServer) -> None:
    discovery, client, tokens = await _connect(server)
    assert tokens.refresh_token is not None
    renewed = await refresh(discovery, client, refresh_token=tokens.refresh_token, limits=LIMITS)
    assert renewed.access_token != tokens.access_token
    assert renewed.refresh_token not in {None, tokens.refresh_token}
    assert await list_tools(_target(server, renewed), limits=LIMITS)
    with pytest.raises(UpstreamGrantRevoked, match="connect it again"):
        await refresh(discovery, client, refresh_token=tokens.refresh_token, limits=LIMITS)


async def test_a_refused_token_gets_the_challenge_again(server: ProtectedServer) -> None:
    bogus = TokenSet(access_token="not-a-token", refresh_token=None, expires_at=None, scope=None)
    with pytest.raises(UpstreamUnauthorized) as raised:
        await call_tool(_target(server, bogus), "echo", {"text": "x"}, limits=LIMITS)
    assert raised.value.www_authenticate is not None


async def test_what_the_product_stores_round_trips_through_json(server: ProtectedServer) -> None:
    discovery, client, tokens = await _connect(server)
    assert AuthDiscovery.from_dict(json.loads(json.dumps(discovery.to_dict()))) == discovery
    assert ClientCredentials.from_dict(json.loads(json.dumps(client.to_dict()))) == client
    assert TokenSet.from_dict(json.loads(json.dumps(tokens.to_dict()))) == tokens


def _metadata_only_server(documents: dict[str, dict[str, Any]]) -> Starlette:
    async def serve(request: Request) -> Response:
        document = documents.get(request.url.path)
        return JSONResponse(document) if document is not None else Response(status_code=404)

    return Starlette(routes=[Route("/{path:path}", serve)])


async def test_an_authorization_server_without_s256_is_refused() -> None:
    documents: dict[str, dict[str, Any]] = {}
    with serve_asgi(_metadata_only_server(documents)) as base:
        documents["/.well-known/oauth-protected-resource/mcp"] = {
            "resource": base + "/mcp",
            "authorization_servers": [base],
        }
        documents["/.well-known/oauth-authorization-server"] = {
            "issuer": base,
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
            "code_challenge_methods_supported": ["plain"],
        }
        with pytest.raises(UpstreamProtocolError, match="PKCE with S256"):
            await discover(base + "/mcp", www_authenticate=None, limits=LIMITS)


async def test_protected_resource_metadata_for_another_resource_is_refused() -> None:
    documents: dict[str, dict[str, Any]] = {}
    with serve_asgi(_metadata_only_server(documents)) as base:
        documents["/.well-known/oauth-protected-resource/mcp"] = {
            "resource": "https://elsewhere.example/mcp",
            "authorization_servers": [base],
        }
        with pytest.raises(UpstreamProtocolError, match="another resource"):
            await discover(base + "/mcp", www_authenticate=None, limits=LIMITS)


async def test_2025_03_26_servers_without_metadata_use_the_default_endpoints() -> None:
    with serve_asgi(_metadata_only_server({})) as base:
        discovery = await discover(base + "/mcp", www_authenticate=None, limits=LIMITS)
        assert discovery.resource_metadata is None
        assert str(discovery.authorization_server.authorization_endpoint) == base + "/authorize"
        assert str(discovery.authorization_server.token_endpoint) == base + "/token"
        with pytest.raises(UpstreamProtocolError, match="Client registration failed"):
            await register_client(
                discovery,
                redirect_uri="https://platform.example/cb",
                metadata_document_url="https://platform.example/doc.json",
                preregistered=None,
                limits=LIMITS,
            )


async def test_without_registration_or_documents_a_preregistered_client_is_needed() -> None:
    documents: dict[str, dict[str, Any]] = {}
    with serve_asgi(_metadata_only_server(documents)) as base:
        documents["/.well-known/oauth-authorization-server"] = {
            "issuer": base,
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
        }
        discovery = await discover(base + "/mcp", www_authenticate=None, limits=LIMITS)
        with pytest.raises(UpstreamProtocolError, match="enter its client id"):
            await register_client(
                discovery,
                redirect_uri="https://platform.example/cb",
                metadata_document_url="https://platform.example/doc.json",
                preregistered=None,
                limits=LIMITS,
            )


async def test_our_client_metadata_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get(CLIENT_METADATA_PATH)
    assert response.status_code == 200
    assert response.json() == {
        "client_id": "http://testserver" + CLIENT_METADATA_PATH,
        "client_name": "Platform",
        "client_uri": "http://testserver",
        "redirect_uris": ["http://testserver" + CALLBACK_PATH],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
