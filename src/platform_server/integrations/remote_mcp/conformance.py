"""The MCP client the official conformance suite drives in client mode (`platform-server
mcp-conformance-client URL`): our upstream client and authorization flow, end to end, without a browser.

The suite starts a server (and an authorization server that approves every request), then runs the command
with the server's URL as the last argument, the scenario's name in MCP_CONFORMANCE_SCENARIO and, for some
scenarios, a JSON context in MCP_CONFORMANCE_CONTEXT (pre-registered client credentials)."""

import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

import httpx2
import mcp_types
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response

from platform_server.config import Settings
from platform_server.integrations.remote_mcp.auth import (
    CALLBACK_PATH,
    AuthDiscovery,
    ClientCredentials,
    authorization_request,
    discover,
    exchange_code,
    register_client,
)
from platform_server.integrations.remote_mcp.net import GuardedTransport
from platform_server.integrations.remote_mcp.upstream import (
    Transport,
    UpstreamLimits,
    UpstreamProtocolError,
    UpstreamTarget,
    UpstreamUnauthorized,
    call_tool,
    list_tools,
    upstream_error,
)

# The suite's authorization servers recognise test clients by this metadata document URL (they never fetch
# ours, which lives at PUBLIC_BASE_URL).
CONFORMANCE_METADATA_DOCUMENT_URL = "https://conformance-test.local/client-metadata.json"
# Authorizations one run may go through: the first, then step-ups to broader scopes. Bounded so a server
# that is never satisfied (403 insufficient_scope forever) cannot loop us.
MAX_AUTHORIZATIONS = 3
_SAMPLE_ARGUMENTS = {"number": 1, "integer": 1, "string": "test", "boolean": True}


@dataclass
class _Authorization:
    client: ClientCredentials | None = None
    issuer: str | None = None
    scopes: list[str] | None = None


def _arguments(tool: mcp_types.Tool) -> dict[str, Any]:
    """Sample values for the tool's required arguments."""
    properties: dict[str, Any] = tool.input_schema.get("properties") or {}
    required: list[str] = tool.input_schema.get("required") or []
    return {name: _SAMPLE_ARGUMENTS.get(str(properties.get(name, {}).get("type")), "test") for name in required}


def _merge(previous: list[str] | None, challenged: list[str] | None) -> list[str] | None:
    """Step-up keeps what was granted before and adds what the server now asks for."""
    if previous is None:
        return challenged
    return previous + [scope for scope in challenged or [] if scope not in previous]


async def _authorize_headlessly(authorize_url: str, state: str, limits: UpstreamLimits) -> str:
    """What a browser would do: open the authorization URL and read the code from the redirect that the
    suite's authorization server answers with at once."""
    guard = GuardedTransport(allow_private=limits.allow_private, max_response_bytes=limits.max_response_bytes)
    async with httpx2.AsyncClient(transport=guard, timeout=limits.timeout_seconds, trust_env=False) as http:
        try:
            response = await http.get(authorize_url)
        except Exception as exc:
            raise upstream_error(exc, guard, None) from None
    location = response.headers.get("location")
    if not response.is_redirect or not location:
        raise UpstreamProtocolError(f"The authorization endpoint answered HTTP {response.status_code}, not a redirect")
    try:
        code: str = parse_authorization_code_response(location, state)["code"]
    except OAuth2Error as exc:
        raise UpstreamUnauthorized(f"The authorization was refused ({exc.error})") from None
    return code


async def _authorize(
    server_url: str,
    refusal: UpstreamUnauthorized,
    session: _Authorization,
    *,
    settings: Settings,
    preregistered: ClientCredentials | None,
    limits: UpstreamLimits,
) -> str:
    discovery: AuthDiscovery = await discover(server_url, www_authenticate=refusal.www_authenticate, limits=limits)
    redirect_uri = settings.PUBLIC_BASE_URL + CALLBACK_PATH
    issuer = str(discovery.authorization_server.issuer)
    if session.client is None or session.issuer != issuer:
        session.client = await register_client(
            discovery,
            redirect_uri=redirect_uri,
            metadata_document_url=CONFORMANCE_METADATA_DOCUMENT_URL,
            preregistered=preregistered,
            limits=limits,
        )
        session.issuer = issuer
    session.scopes = _merge(session.scopes, discovery.scopes)
    state = secrets.token_urlsafe(16)
    url, code_verifier = authorization_request(
        discovery, session.client, redirect_uri=redirect_uri, state=state, scopes=session.scopes
    )
    code = await _authorize_headlessly(url, state, limits)
    tokens = await exchange_code(
        discovery, session.client, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri, limits=limits
    )
    return tokens.access_token


def _preregistered(context: str | None) -> ClientCredentials | None:
    if not context:
        return None
    values = json.loads(context)
    if not isinstance(values, dict) or "client_id" not in values:
        return None
    return ClientCredentials(client_id=values["client_id"], client_secret=values.get("client_secret"))


async def run_conformance_client(server_url: str, settings: Settings) -> list[str]:
    """Connects, lists the tools and calls the first one, authorizing whenever the server asks; returns a
    line per step for the suite's log."""
    limits = UpstreamLimits(allow_private=settings.REMOTE_MCP_ALLOW_PRIVATE, timeout_seconds=10)
    preregistered = _preregistered(os.environ.get("MCP_CONFORMANCE_CONTEXT"))
    session = _Authorization()
    headers: dict[str, str] = {}
    authorizations = 0
    while True:
        target = UpstreamTarget(url=server_url, transport=Transport.streamable_http, headers=headers)
        try:
            tools = await list_tools(target, limits=limits)
            log = [f"tools: {', '.join(tool.name for tool in tools)}"]
            if tools:
                result = await call_tool(target, tools[0].name, _arguments(tools[0]), limits=limits)
                log.append(f"called {tools[0].name}: isError={result.is_error}")
            return log
        except UpstreamUnauthorized as refusal:
            if authorizations == MAX_AUTHORIZATIONS:
                raise
            authorizations += 1
            access_token = await _authorize(
                server_url, refusal, session, settings=settings, preregistered=preregistered, limits=limits
            )
            headers = {"Authorization": f"Bearer {access_token}"}
