"""The MCP Registry client and `GET /api/integrations/mcp/registry`, against a local server speaking the registry API.

The fake registry (Starlette under uvicorn on a free port, in a thread) serves `GET /v0.1/servers` from fixture
data shaped like the official registry's answers: `{"servers": [{"server": <server.json>, "_meta": {...}}],
"metadata": {"nextCursor", "count"}}`, honoring `cursor`, `limit`, `search` and `version=latest`, and answering
huma-style `{"title", "status", "detail"}` errors. Its first path segment picks a behaviour: `ok`, `broken` (500),
`slow`, `garbage` (HTML), `wrong-shape`, `huge` (3 MiB), `redirect`.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from platform_server.errors import BadRequest
from platform_server.integrations.remote_mcp.registry_client import (
    RegistryBadResponse,
    RegistryClient,
    RegistryPage,
    RegistryUnavailable,
)
from platform_server.integrations.remote_mcp.upstream import Transport
from tests.conftest import Member, make_settings

PATH = "/api/integrations/mcp/registry"
SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"


def _entry(server: dict[str, Any], *, latest: bool = True, updated: str = "2026-11-30T12:00:00Z") -> dict[str, Any]:
    return {
        "server": {"$schema": SCHEMA, **server},
        "_meta": {
            "io.modelcontextprotocol.registry/official": {
                "status": "active",
                "publishedAt": "2026-10-01T08:00:00Z",
                "updatedAt": updated,
                "isLatest": latest,
            }
        },
    }


# In the registry's order (by name, then version).
ENTRIES: list[dict[str, Any]] = [
    _entry(
        {
            "name": "com.acme/crm",
            "title": "Acme CRM",
            "description": "Accounts and deals in Acme CRM",
            "version": "3.1.0",
            "websiteUrl": "https://acme.example.com/mcp-docs",
            "remotes": [
                {"type": "sse", "url": "https://mcp.acme.example.com/sse"},
                {
                    "type": "streamable-http",
                    "url": "https://{tenant}.acme.example.com/mcp",
                    "variables": {"tenant": {"description": "Your Acme tenant", "isRequired": True}},
                },
            ],
        }
    ),
    _entry(
        {
            "name": "com.example/weather",
            "description": "Forecasts and current conditions",
            "version": "1.0.0",
            "remotes": [{"type": "streamable-http", "url": "https://mcp.weather.example.com/v1/mcp"}],
        },
        latest=False,
        updated="2026-10-01T08:00:00Z",
    ),
    _entry(
        {
            "name": "com.example/weather",
            "title": "Weather",
            "description": "Forecasts and current conditions",
            "version": "1.2.0",
            "repository": {"url": "https://github.com/example/weather-mcp", "source": "github"},
            "remotes": [
                {
                    "type": "streamable-http",
                    "url": "https://mcp.weather.example.com/mcp",
                    "headers": [
                        {
                            "name": "Authorization",
                            "description": "Bearer token from your account settings",
                            "isRequired": True,
                            "isSecret": True,
                            "value": "Bearer {api_key}",
                        }
                    ],
                }
            ],
        }
    ),
    # A publisher's malformed entry: no name. The client leaves it out instead of failing the page.
    _entry({"description": "Nameless", "version": "0.0.1"}),
    _entry(
        {
            "name": "io.example/both",
            "description": "Runs locally or remotely",
            "version": "0.9.0",
            "packages": [{"registryType": "pypi", "identifier": "example-both", "version": "0.9.0"}],
            "remotes": [{"type": "streamable-http", "url": "https://both.example.io/mcp"}],
        }
    ),
    _entry(
        {
            "name": "io.github.someone/files",
            "description": "Local files, run with npx",
            "version": "2.0.1",
            "packages": [
                {
                    "registryType": "npm",
                    "registryBaseUrl": "https://registry.npmjs.org",
                    "identifier": "@someone/files-mcp",
                    "version": "2.0.1",
                    "transport": {"type": "stdio"},
                    "environmentVariables": [{"name": "FILES_ROOT", "isRequired": True}],
                }
            ],
        }
    ),
    _entry(
        {
            "name": "io.github.someone/sockets",
            "description": "Speaks a transport the gateway does not",
            "version": "0.1.0",
            "remotes": [{"type": "websocket", "url": "wss://sockets.example.io/mcp"}],
        }
    ),
]
# What the client must answer, in order, for `version=latest`.
LATEST_NAMES = [
    "com.acme/crm",
    "com.example/weather",
    "io.example/both",
    "io.github.someone/files",
    "io.github.someone/sockets",
]


def _cursor_of(entry: dict[str, Any]) -> str:
    server = entry["server"]
    return f"{server.get('name', '')}:{server['version']}"


async def _list_servers(request: Request) -> Response:
    registry: FakeRegistry = request.app.state.registry
    mode = request.path_params["mode"]
    registry.requests.append((mode, dict(request.query_params)))
    if mode == "broken":
        return JSONResponse({"title": "Internal Server Error", "status": 500}, status_code=500)
    if mode == "slow":
        await asyncio.sleep(2)
    if mode == "garbage":
        return Response("<html><body>Service temporarily moved</body></html>", media_type="text/html")
    if mode == "wrong-shape":
        return JSONResponse({"items": [], "next": None})
    if mode == "huge":
        chunk = b"x" * 65536
        return StreamingResponse(iter([chunk] * 48), media_type="application/json")
    if mode == "redirect":
        return RedirectResponse("https://registry.example.org/v0.1/servers", status_code=302)
    query = request.query_params
    try:
        limit = int(query.get("limit", "30"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        return JSONResponse({"title": "Unprocessable Entity", "status": 422, "detail": "limit must be 1..100"}, 422)
    entries = [e for e in ENTRIES if query.get("version") != "latest" or e["_meta"][OFFICIAL]["isLatest"]]
    if search := query.get("search", "").casefold():
        entries = [
            e
            for e in entries
            if search in e["server"].get("name", "").casefold() or search in e["server"]["description"].casefold()
        ]
    if cursor := query.get("cursor"):
        cursors = [_cursor_of(e) for e in entries]
        if cursor not in cursors:
            return JSONResponse({"title": "Bad Request", "status": 400, "detail": "Invalid cursor parameter"}, 400)
        entries = entries[cursors.index(cursor) + 1 :]
    page, rest = entries[:limit], entries[limit:]
    metadata: dict[str, Any] = {"count": len(page)}
    if rest:
        metadata["nextCursor"] = _cursor_of(page[-1])
    return JSONResponse({"servers": page, "metadata": metadata})


OFFICIAL = "io.modelcontextprotocol.registry/official"


@dataclass
class FakeRegistry:
    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def base(self, mode: str) -> str:
        return f"{self.url}/{mode}"


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeRegistry]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    fake = FakeRegistry(f"http://127.0.0.1:{sock.getsockname()[1]}")
    app = Starlette(routes=[Route("/{mode}/v0.1/servers", _list_servers)])
    app.state.registry = fake
    server = uvicorn.Server(uvicorn.Config(app, loop="asyncio", log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    assert server.started, "the fake registry did not start"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _closed_port_url() -> str:
    """An address nothing listens on: what a registry looks like from a machine without internet access."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def settings_overrides(registry: FakeRegistry, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The app's registry: the fake one in the behaviour a test names (`indirect` parametrization, `ok` by
    default), or `unreachable`."""
    mode = getattr(request, "param", "ok")
    return {"MCP_REGISTRY_URL": _closed_port_url() if mode == "unreachable" else registry.base(mode)}


async def _all_pages(client: RegistryClient, **params: Any) -> list[RegistryPage]:
    pages = [await client.list_servers(**params)]
    while pages[-1].next_cursor is not None:
        pages.append(await client.list_servers(cursor=pages[-1].next_cursor, **params))
    return pages


class TestClient:
    async def test_pages_through_the_registry_by_its_cursor(self, registry: FakeRegistry) -> None:
        pages = await _all_pages(RegistryClient(registry.base("ok")), limit=2)
        assert [[server.name for server in page.servers] for page in pages] == [
            ["com.acme/crm", "com.example/weather"],
            # The nameless entry was the third: left out, its page is one short.
            ["io.example/both"],
            ["io.github.someone/files", "io.github.someone/sockets"],
        ]
        assert pages[-1].next_cursor is None
        sent = [query for mode, query in registry.requests[-3:]]
        assert all(query["version"] == "latest" and query["limit"] == "2" for query in sent)
        assert "cursor" not in sent[0]
        assert sent[1]["cursor"] == "com.example/weather:1.2.0"

    async def test_search(self, registry: FakeRegistry) -> None:
        page = await RegistryClient(registry.base("ok")).list_servers(search="WEATHER")
        assert [(server.name, server.version) for server in page.servers] == [("com.example/weather", "1.2.0")]
        assert page.next_cursor is None
        assert registry.requests[-1][1]["search"] == "WEATHER"

    async def test_maps_remotes_packages_and_metadata(self, registry: FakeRegistry) -> None:
        page = await RegistryClient(registry.base("ok")).list_servers(limit=100)
        servers = {server.name: server for server in page.servers}
        assert [server.name for server in page.servers] == LATEST_NAMES

        weather = servers["com.example/weather"]
        assert weather.title == "Weather"
        assert weather.repository_url == "https://github.com/example/weather-mcp"
        assert weather.status == "active"
        assert weather.updated_at == "2026-11-30T12:00:00Z"
        [remote] = weather.remotes
        assert remote.transport is Transport.streamable_http
        assert remote.url == "https://mcp.weather.example.com/mcp"
        [header] = remote.headers
        assert (header.name, header.is_required, header.is_secret) == ("Authorization", True, True)
        assert weather.connectable

        crm = servers["com.acme/crm"]
        sse, templated = crm.remotes
        assert (sse.transport, sse.connectable) == (Transport.sse, True)
        assert templated.variables == ("tenant",)
        assert not templated.connectable
        assert crm.connectable
        assert crm.website_url == "https://acme.example.com/mcp-docs"

        files = servers["io.github.someone/files"]
        assert files.remotes == ()
        assert not files.connectable
        [package] = files.packages
        assert (package.registry_type, package.identifier, package.version) == ("npm", "@someone/files-mcp", "2.0.1")

        assert servers["io.example/both"].connectable
        assert servers["io.example/both"].packages[0].registry_type == "pypi"
        # A transport the gateway does not speak is not a remote it can connect to.
        assert servers["io.github.someone/sockets"].remotes == ()
        assert not servers["io.github.someone/sockets"].connectable

    async def test_refused_cursor_is_a_bad_request(self, registry: FakeRegistry) -> None:
        with pytest.raises(BadRequest, match="Invalid cursor parameter"):
            await RegistryClient(registry.base("ok")).list_servers(cursor="no-such:cursor")

    async def test_unreachable(self) -> None:
        closed = _closed_port_url()
        with pytest.raises(RegistryUnavailable, match="could not be reached") as caught:
            await RegistryClient(closed).list_servers()
        assert caught.value.details == {"registryUrl": closed}

    async def test_timeout(self, registry: FakeRegistry) -> None:
        client = RegistryClient(registry.base("slow"), timeout_seconds=0.2)
        with pytest.raises(RegistryUnavailable, match=r"did not answer within 0\.2 seconds"):
            await client.list_servers()

    @pytest.mark.parametrize(
        ("mode", "error", "message"),
        [
            ("broken", RegistryUnavailable, "answered HTTP 500"),
            ("garbage", RegistryBadResponse, "not a list of servers"),
            ("wrong-shape", RegistryBadResponse, "not a list of servers"),
            ("huge", RegistryBadResponse, "larger than 2048 KiB"),
            ("redirect", RegistryBadResponse, "answered HTTP 302"),
        ],
    )
    async def test_failures_are_readable(
        self, registry: FakeRegistry, mode: str, error: type[Exception], message: str
    ) -> None:
        with pytest.raises(error, match=message):
            await RegistryClient(registry.base(mode)).list_servers()


class TestSetting:
    def test_default_is_the_official_registry(self) -> None:
        assert make_settings("sqlite+aiosqlite://").MCP_REGISTRY_URL == "https://registry.modelcontextprotocol.io"

    def test_trailing_slash_is_dropped(self) -> None:
        settings = make_settings("sqlite+aiosqlite://", MCP_REGISTRY_URL="https://mirror.example.com/registry/")
        assert settings.MCP_REGISTRY_URL == "https://mirror.example.com/registry"

    @pytest.mark.parametrize(
        "url", ["registry.example.com", "ftp://registry.example.com", "https://", "https://r.example?x=1"]
    )
    def test_not_a_base_url_is_refused_at_startup(self, url: str) -> None:
        with pytest.raises(ValidationError, match="MCP_REGISTRY_URL must be an http"):
            make_settings("sqlite+aiosqlite://", MCP_REGISTRY_URL=url)


class TestEndpoint:
    async def test_pages_in_camel_case(self, client: httpx.AsyncClient, owner: Member) -> None:
        first = await client.get(PATH, params={"limit": 2}, headers=owner.headers)
        assert first.status_code == 200
        body = first.json()
        assert set(body) == {"data", "nextCursor"}
        assert [server["name"] for server in body["data"]] == LATEST_NAMES[:2]
        assert body["nextCursor"] == "com.example/weather:1.2.0"
        weather = body["data"][1]
        assert weather == {
            "name": "com.example/weather",
            "title": "Weather",
            "description": "Forecasts and current conditions",
            "version": "1.2.0",
            "websiteUrl": None,
            "repositoryUrl": "https://github.com/example/weather-mcp",
            "status": "active",
            "updatedAt": "2026-11-30T12:00:00Z",
            "connectable": True,
            "remotes": [
                {
                    "transport": "streamable_http",
                    "url": "https://mcp.weather.example.com/mcp",
                    "headers": [
                        {
                            "name": "Authorization",
                            "description": "Bearer token from your account settings",
                            "isRequired": True,
                            "isSecret": True,
                        }
                    ],
                    "variables": [],
                    "connectable": True,
                }
            ],
            "packages": [],
        }
        names = [server["name"] for server in body["data"]]
        cursor = body["nextCursor"]
        while cursor is not None:
            page = await client.get(PATH, params={"limit": 2, "cursor": cursor}, headers=owner.headers)
            assert page.status_code == 200
            names += [server["name"] for server in page.json()["data"]]
            cursor = page.json()["nextCursor"]
        assert names == LATEST_NAMES

    async def test_search_and_packages_only(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get(PATH, params={"search": "files"}, headers=owner.headers)
        [files] = response.json()["data"]
        assert files["connectable"] is False
        assert files["remotes"] == []
        assert files["packages"] == [{"registryType": "npm", "identifier": "@someone/files-mcp", "version": "2.0.1"}]
        assert response.json()["nextCursor"] is None

    async def test_refused_cursor(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get(PATH, params={"cursor": "forged:9.9.9"}, headers=owner.headers)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "BAD_REQUEST"
        assert error["message"] == "The MCP Registry refused the request: Invalid cursor parameter"

    @pytest.mark.parametrize(
        ("settings_overrides", "status", "code"),
        [
            ("broken", 503, "MCP_REGISTRY_UNAVAILABLE"),
            ("garbage", 502, "MCP_REGISTRY_BAD_RESPONSE"),
            ("huge", 502, "MCP_REGISTRY_BAD_RESPONSE"),
        ],
        indirect=["settings_overrides"],
    )
    async def test_registry_failures_are_readable(
        self, client: httpx.AsyncClient, owner: Member, settings_overrides: dict[str, Any], status: int, code: str
    ) -> None:
        response = await client.get(PATH, headers=owner.headers)
        assert response.status_code == status
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message"].startswith("The MCP Registry")

    @pytest.mark.parametrize("settings_overrides", ["unreachable"], indirect=True)
    async def test_unreachable_registry_is_a_503(
        self, client: httpx.AsyncClient, owner: Member, settings_overrides: dict[str, Any]
    ) -> None:
        closed = settings_overrides["MCP_REGISTRY_URL"]
        response = await client.get(PATH, headers=owner.headers)
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "MCP_REGISTRY_UNAVAILABLE"
        assert closed in error["message"]
        assert "MCP_REGISTRY_URL" in error["message"]

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer plat_not-a-key"}])
    async def test_needs_an_api_key(
        self, client: httpx.AsyncClient, registry: FakeRegistry, headers: dict[str, str]
    ) -> None:
        before = len(registry.requests)
        response = await client.get(PATH, headers=headers)
        assert response.status_code == 401
        assert len(registry.requests) == before

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": 0}, "query.limit"),
            ({"limit": 101}, "query.limit"),
            ({"limit": "all"}, "query.limit"),
            ({"cursor": ""}, "query.cursor"),
            ({"cursor": "c" * 501}, "query.cursor"),
            ({"search": ""}, "query.search"),
            ({"search": "s" * 101}, "query.search"),
        ],
    )
    async def test_bad_parameters_never_reach_the_registry(
        self, client: httpx.AsyncClient, owner: Member, registry: FakeRegistry, params: dict[str, Any], field: str
    ) -> None:
        before = len(registry.requests)
        response = await client.get(PATH, params=params, headers=owner.headers)
        assert response.status_code == 422
        assert [f["field"] for f in response.json()["error"]["details"]["fields"]] == [field]
        assert len(registry.requests) == before

    # A NUL byte, percent-encoded as sent (invalid UTF-8 is decoded to replacement characters, harmless).
    @pytest.mark.parametrize("query", ["search=a%00b", "cursor=com.example%2Fweather%3A1.2.0%00"])
    async def test_hostile_text_never_reaches_the_registry(
        self, client: httpx.AsyncClient, owner: Member, registry: FakeRegistry, query: str
    ) -> None:
        before = len(registry.requests)
        response = await client.get(f"{PATH}?{query}", headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert len(registry.requests) == before
