"""The provider clients' network transport (the shared keep-alive HTTP/1.1 client, under httpx and as the provider
clients' wire) against servers the tests run on real sockets, each answering as scripted: kept-alive connections,
a server closing them, slow or silent servers, big, chunked, compressed and unframed bodies, TLS with a
certificate of the test's own CA."""

import asyncio
import gzip
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from platform_server.config import Settings
from platform_server.integrations.providers.client import (
    ProviderBadRequest,
    ProviderClient,
    ProviderHttp,
    ProviderUnavailable,
    StaticTokenSource,
)
from platform_server.integrations.providers.transport import Http1Transport, provider_pool
from platform_server.integrations.registry import PROVIDER_APIS
from tests.oauth_server.documents import make_certificates


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    requests: list[Request] = field(default_factory=list)

    async def receive(self) -> Request | None:
        """The next request on this connection; None once the client closed it."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        line, *lines = head.decode("latin-1").split("\r\n")[:-2]
        method, target, _ = line.split(" ")
        headers = {name.lower(): value.strip() for name, value in (entry.split(":", 1) for entry in lines)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        request = Request(method, target, headers, body)
        self.requests.append(request)
        return request

    async def answer(self, body: bytes = b"{}", *, status: int = 200, headers: str = "") -> None:
        head = f"HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{headers}\r\n"
        self.writer.write(head.encode() + body)
        await self.writer.drain()


Script = Callable[[Connection], Awaitable[None]]


@dataclass
class Server:
    url: str
    connections: list[Connection]

    @property
    def requests(self) -> list[Request]:
        return [request for connection in self.connections for request in connection.requests]


@asynccontextmanager
async def serving(script: Script, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    """A server on a free loopback port that runs `script` for each connection it accepts, then closes it."""
    connections: list[Connection] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(reader, writer)
        connections.append(connection)
        try:
            await script(connection)
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield Server(f"{'https' if tls else 'http'}://127.0.0.1:{port}", connections)


async def keep_answering(connection: Connection) -> None:
    while (request := await connection.receive()) is not None:
        await connection.answer(b'{"path": "%s"}' % request.target.encode())


def transport(tls: Callable[[], ssl.SSLContext] = httpx.create_ssl_context, *, connections: int = 50) -> Http1Transport:
    return Http1Transport(provider_pool(tls, max_response_bytes=None, max_connections=connections))


def client(
    server: Server, tls: Callable[[], ssl.SSLContext] = httpx.create_ssl_context, *, connections: int = 50
) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, transport=transport(tls, connections=connections), timeout=5)


async def silent(connection: Connection) -> None:
    """Reads a request and never answers (until the client gives up on the connection)."""
    await connection.receive()
    await connection.reader.read()


async def test_requests_share_one_kept_alive_connection() -> None:
    async with serving(keep_answering) as server, client(server) as http:
        for index in range(5):
            response = await http.get("/items", params={"page": index, "q": "a b"})
            assert response.json() == {"path": f"/items?page={index}&q=a+b"}
        posted = await http.post("/items", json={"title": "x"})
        assert posted.status_code == 200
    assert len(server.connections) == 1
    assert [request.method for request in server.requests] == ["GET"] * 5 + ["POST"]
    assert server.requests[-1].body == b'{"title":"x"}'
    assert server.requests[0].headers["host"] == server.url.removeprefix("http://")


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def one_answer(connection: Connection) -> None:
        await connection.receive()
        await connection.answer()

    async with serving(one_answer) as server, client(server) as http:
        assert (await http.get("/first")).status_code == 200
        # The server's FIN arrives while the connection is idle.
        await asyncio.sleep(0.05)
        assert (await http.post("/second", json={})).status_code == 200
    assert len(server.connections) == 2


async def drop_second_request(connection: Connection) -> None:
    """Answers the first request of a connection, then reads the next and closes without answering: the race of a
    server closing a kept-alive connection while the client's request is on its way."""
    if await connection.receive() is not None:
        await connection.answer()
        await connection.receive()


async def test_a_read_on_a_connection_closed_under_it_is_sent_once_more_on_a_fresh_one() -> None:
    async with serving(drop_second_request) as server, client(server) as http:
        await http.get("/first")
        response = await http.get("/second")
        assert response.status_code == 200
    assert [request.target for request in server.requests] == ["/first", "/second", "/second"]
    assert len(server.connections) == 2


async def test_a_write_on_a_connection_closed_under_it_is_not_sent_again() -> None:
    async with serving(drop_second_request) as server, client(server) as http:
        await http.get("/first")
        with pytest.raises(httpx.RemoteProtocolError, match="closed the connection"):
            await http.post("/issues", json={"title": "created once"})
    assert [request.target for request in server.requests] == ["/first", "/issues"]


async def test_a_fresh_connection_closed_before_answering_is_not_retried() -> None:
    async def close_at_once(connection: Connection) -> None:
        await connection.receive()

    async with serving(close_at_once) as server, client(server) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/anything")
    assert len(server.requests) == 1


async def stall(connection: Connection) -> None:
    """Answers half a body, then nothing more."""
    await connection.receive()
    connection.writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
    await connection.reader.read()


@pytest.mark.parametrize("script", [silent, stall])
async def test_a_server_that_stops_answering_times_out_as_httpx_does(script: Script) -> None:
    async with serving(script) as server, client(server) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/slow", timeout=0.2)


async def test_waiting_for_a_free_connection_times_out() -> None:
    async def slow(connection: Connection) -> None:
        await connection.receive()
        await asyncio.sleep(1)
        await connection.answer()

    async with serving(slow) as server, client(server, connections=1) as http:
        first = asyncio.create_task(http.get("/held", timeout=5))
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await http.get("/waiting", timeout=httpx.Timeout(5, pool=0.1))
        assert (await first).status_code == 200


async def test_nothing_listening_is_a_connect_error() -> None:
    async with serving(keep_answering) as server:
        url = server.url
    async with httpx.AsyncClient(transport=transport()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_a_big_body_arrives_whole() -> None:
    body = bytes(range(256)) * 40_000

    async def big(connection: Connection) -> None:
        while await connection.receive() is not None:
            await connection.answer(body, headers="content-type: application/octet-stream\r\n")

    async with serving(big) as server, client(server) as http:
        for _ in range(2):
            assert (await http.get("/big")).content == body
    assert len(server.connections) == 1


async def test_a_chunked_body_arrives_whole_and_the_connection_is_kept() -> None:
    async def chunked(connection: Connection) -> None:
        while await connection.receive() is not None:
            connection.writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for part in (b'{"items": [', b"1, 2, 3" * 5000, b"]}"):
                connection.writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await connection.writer.drain()
                await asyncio.sleep(0.01)
            connection.writer.write(b"0\r\n\r\n")

    async with serving(chunked) as server, client(server) as http:
        for _ in range(2):
            response = await http.get("/chunked")
            assert response.content == b'{"items": [' + b"1, 2, 3" * 5000 + b"]}"
    assert len(server.connections) == 1


async def test_a_compressed_body_is_decoded() -> None:
    async def compressed(connection: Connection) -> None:
        request = await connection.receive()
        assert request is not None
        assert "gzip" in request.headers["accept-encoding"]
        await connection.answer(gzip.compress(b'{"ok": true}'), headers="content-encoding: gzip\r\n")

    async with serving(compressed) as server, client(server) as http:
        assert (await http.get("/gzip")).json() == {"ok": True}


async def test_a_body_ended_by_closing_arrives_and_its_connection_is_not_kept() -> None:
    async def unframed(connection: Connection) -> None:
        await connection.receive()
        connection.writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")

    async with serving(unframed) as server, client(server) as http:
        assert (await http.get("/first")).content == b"until the end"
        assert (await http.get("/second")).content == b"until the end"
    assert len(server.connections) == 2


async def test_the_answer_to_head_has_no_body_whatever_its_length_says() -> None:
    async def heads(connection: Connection) -> None:
        while (request := await connection.receive()) is not None:
            if request.method == "HEAD":
                connection.writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
            else:
                await connection.answer()

    async with serving(heads) as server, client(server) as http:
        assert (await http.head("/thing", timeout=2)).content == b""
        assert (await http.get("/thing")).status_code == 200
    assert len(server.connections) == 1


async def test_a_redirect_is_answered_not_followed() -> None:
    async def redirect(connection: Connection) -> None:
        await connection.receive()
        await connection.answer(status=302, headers="location: http://elsewhere.invalid/\r\n")

    async with serving(redirect) as server, client(server) as http:
        response = await http.get("/moved")
        assert response.status_code == 302
        assert response.headers["location"] == "http://elsewhere.invalid/"
    assert len(server.requests) == 1


async def test_a_header_that_would_end_its_line_is_refused() -> None:
    async with serving(keep_answering) as server, client(server) as http:
        request = http.build_request("GET", "/")
        request.headers["x-evil"] = "a\r\nx-injected: 1"
        with pytest.raises(httpx.LocalProtocolError):
            await http.send(request)
    assert server.requests == []


# TLS: a certificate for 127.0.0.1 from a throwaway CA.


@dataclass(frozen=True)
class Authority:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    ca_file, certificate, key = make_certificates(tmp_path_factory.mktemp("tls"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certificate, key)
    return Authority(server, ssl.create_default_context(cafile=ca_file))


async def test_tls_verifies_the_servers_certificate_and_keeps_the_connection(authority: Authority) -> None:
    async with serving(keep_answering, authority.server) as server, client(server, lambda: authority.client) as http:
        for _ in range(3):
            assert (await http.get("/secure")).json() == {"path": "/secure"}
    assert len(server.connections) == 1


async def test_tls_refuses_a_certificate_no_trusted_authority_signed(authority: Authority) -> None:
    async with serving(keep_answering, authority.server) as server, client(server) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get("/secure")
    assert server.requests == []


# Through the provider clients, as a server reaches a provider.


async def no_wait(seconds: float) -> None:
    return None


def network_provider_http(server: Server, timeout: float = 20, max_response_bytes: int = 32 << 20) -> ProviderHttp:
    """Sandbox mode without SANDBOX_IN_PROCESS: every provider's API at `server`, reached over the network."""
    settings = Settings(
        PLATFORM_SANDBOX=True,
        PUBLIC_BASE_URL=server.url,
        SANDBOX_IN_PROCESS=False,
        PROVIDER_TIMEOUT_SECONDS=timeout,
        PROVIDER_MAX_RESPONSE_BYTES=max_response_bytes,
    )
    return ProviderHttp(settings, PROVIDER_APIS, sleep=no_wait)


@asynccontextmanager
async def github_client(
    server: Server, *, bearer: str = "gho_token", provider_timeout: float = 20, max_response_bytes: int = 32 << 20
) -> AsyncIterator[ProviderClient]:
    """A GitHub client of `network_provider_http(server, …)` sending `bearer`; its connections closed at the end."""
    provider_http = network_provider_http(server, provider_timeout, max_response_bytes)
    try:
        yield provider_http.client("github", StaticTokenSource("github", bearer))
    finally:
        await provider_http.aclose()


async def test_provider_calls_go_out_over_kept_alive_connections() -> None:
    async with serving(keep_answering) as server, github_client(server) as client:
        for _ in range(3):
            response = await client.get(client.path("repos", "acme", "product", "issues"), params={"state": "open"})
            assert response.data == {"path": "/sandbox/github/repos/acme/product/issues?state=open"}
    assert len(server.connections) == 1
    assert {request.headers["authorization"] for request in server.requests} == {"Bearer gho_token"}


async def test_a_provider_that_does_not_answer_in_time_is_unavailable() -> None:
    async with serving(silent) as server, github_client(server, provider_timeout=0.2) as client:
        with pytest.raises(ProviderUnavailable, match="did not answer in time"):
            await client.get("/user")
    # A read is tried again after a timeout, up to the policy's attempts.
    assert len(server.requests) == 4


# The usual provider request is built by the client and sent on the pool directly, past httpx's client: what goes
# out must be what httpx would have sent.

SENT_AS_HTTPX_WOULD: list[tuple[str, dict[str, Any] | None]] = [
    ("/user", None),
    ("/repos/acme/product/issues", {"state": "open", "per_page": 3, "page": 1}),
    ("/orgs/a%3Fc%23d%252e%20e~/repos", {"q": 'repo:acme/product is:open label:"good first" a&b=c+d/é%'}),
    ("/rest/api/3/issue/ABC-1", {"fields": "summary,status", "ratio": 1.5, "empty": ""}),
    ("/v1/files/key~x_y.z-1", {}),
    ("/v1/images/abc", {"ids": "1:2,3:4", "list": ["a", "b"]}),
    ("/search/issues?q=is%3Aopen", None),
    ("/search/issues?q=is%3Aopen", {"page": 2}),
    ("/x/café", {"n": 1}),
    ("/orgs//repos", None),
    ("/user/", None),
    ("/", None),
]


@pytest.mark.parametrize(("path", "params"), SENT_AS_HTTPX_WOULD)
async def test_a_provider_call_sends_the_url_and_headers_httpx_would(path: str, params: dict[str, Any] | None) -> None:
    async with serving(keep_answering) as server:
        provider_http = network_provider_http(server)
        assert provider_http.wire("github").direct
        client = provider_http.client("github", StaticTokenSource("github", "gho_token"))
        response = await client.get(path, params=params)
        http = provider_http.http("github")
        expected = http.build_request("GET", path, params=params, headers={"Authorization": "Bearer gho_token"})
        await http.send(expected)
        await provider_http.aclose()
    through_wire, through_httpx = server.requests
    assert response.url == str(expected.url)
    assert through_wire.target == expected.url.raw_path.decode() == through_httpx.target
    assert through_wire.headers == through_httpx.headers
    assert through_wire.headers["accept"] == "application/vnd.github+json"
    assert "gzip" in through_wire.headers["accept-encoding"]


async def test_a_provider_call_with_a_body_sends_it_as_httpx_would() -> None:
    async with serving(keep_answering) as server, github_client(server) as client:
        await client.post(client.path("repos", "acme", "product", "issues"), json={"title": "é"})
        await client.request("POST", "/login/oauth/access_token", data={"code": "a b&c"})
    json_post, form_post = server.requests
    assert (json_post.body, json_post.headers["content-type"]) == ('{"title":"é"}'.encode(), "application/json")
    assert (form_post.body, form_post.headers["content-type"]) == (
        b"code=a+b%26c",
        "application/x-www-form-urlencoded",
    )


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_a_compressed_provider_answer_is_decoded(coding: str) -> None:
    compress = gzip.compress if coding == "gzip" else zlib.compress

    async def compressed(connection: Connection) -> None:
        while await connection.receive() is not None:
            await connection.answer(compress(b'{"ok": true}'), headers=f"content-encoding: {coding}\r\n")

    async with serving(compressed) as server, github_client(server) as client:
        response = await client.get("/user")
    assert response.data == {"ok": True}


async def test_a_chunked_provider_answer_arrives_whole() -> None:
    async def chunked(connection: Connection) -> None:
        while await connection.receive() is not None:
            connection.writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            for part in (b"[", b"1, 2, 3, " * 5000, b"4]"):
                connection.writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await connection.writer.drain()
            connection.writer.write(b"0\r\n\r\n")

    async with serving(chunked) as server, github_client(server) as client:
        response = await client.get("/user")
    assert response.data == [1, 2, 3] * 5000 + [4]


LIMIT = 10_000


async def answer_chunked(connection: Connection, parts: list[bytes]) -> None:
    connection.writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
    for part in parts:
        connection.writer.write(b"%x\r\n%s\r\n" % (len(part), part))
    connection.writer.write(b"0\r\n\r\n")
    await connection.writer.drain()


def json_of_size(size: int) -> bytes:
    return b'"' + b"x" * (size - 2) + b'"'


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_provider_answer_larger_than_the_limit_is_refused_and_not_asked_again(framing: str) -> None:
    async def big(connection: Connection) -> None:
        while await connection.receive() is not None:
            body = json_of_size(LIMIT + 1)
            if framing == "chunked":
                await answer_chunked(connection, [body[:4000], body[4000:]])
            else:
                await connection.answer(body)

    async with serving(big) as server, github_client(server, max_response_bytes=LIMIT) as client:
        with pytest.raises(ProviderUnavailable, match=f"more than {LIMIT} bytes.*PROVIDER_MAX_RESPONSE_BYTES"):
            await client.get("/user")
    assert len(server.requests) == 1


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_provider_answer_of_exactly_the_limit_arrives_whole(framing: str) -> None:
    body = json_of_size(LIMIT)

    async def at_the_limit(connection: Connection) -> None:
        while await connection.receive() is not None:
            if framing == "chunked":
                await answer_chunked(connection, [body[:4000], body[4000:]])
            else:
                await connection.answer(body)

    async with serving(at_the_limit) as server, github_client(server, max_response_bytes=LIMIT) as client:
        response = await client.get("/user")
    assert response.data == "x" * (LIMIT - 2)


@pytest.mark.parametrize(("coding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)])
@pytest.mark.parametrize("decoded_size", [LIMIT, LIMIT + 1, 50_000_000])
async def test_a_compressed_provider_answer_is_held_to_the_limit_once_decoded(
    coding: str, compress: Callable[[bytes], bytes], decoded_size: int
) -> None:
    """A small answer that inflates past the limit (50 MB from some 50 KB at the most) is refused like a big one."""
    body = compress(json_of_size(decoded_size))

    async def compressed(connection: Connection) -> None:
        while await connection.receive() is not None:
            await connection.answer(body, headers=f"content-encoding: {coding}\r\n")

    limit = max(LIMIT, len(body))
    async with serving(compressed) as server, github_client(server, max_response_bytes=limit) as client:
        if decoded_size > limit:
            with pytest.raises(ProviderUnavailable, match="more than"):
                await client.get("/user")
            assert len(server.requests) == 1
        else:
            assert (await client.get("/user")).data == "x" * (decoded_size - 2)


async def test_a_redirect_of_a_provider_call_is_not_followed() -> None:
    async def redirect(connection: Connection) -> None:
        while await connection.receive() is not None:
            await connection.answer(status=302, headers="location: http://elsewhere.invalid/\r\n")

    async with serving(redirect) as server, github_client(server) as client:
        with pytest.raises(ProviderBadRequest, match="is not followed"):
            await client.get("/user")
    assert len(server.requests) == 1


async def test_a_provider_nothing_listens_for_is_unreachable() -> None:
    async with serving(keep_answering) as server:
        provider_http = network_provider_http(server)
    client = provider_http.client("github", StaticTokenSource("github", "gho_token"))
    with pytest.raises(ProviderUnavailable, match=r"could not be reached \(ConnectError\)"):
        await client.get("/user")
    await provider_http.aclose()


async def test_a_provider_whose_certificate_no_trusted_authority_signed_is_unreachable(authority: Authority) -> None:
    async with serving(keep_answering, authority.server) as server, github_client(server) as client:
        with pytest.raises(ProviderUnavailable, match=r"could not be reached \(ConnectError\)"):
            await client.get("/user")
    assert server.requests == []


async def test_a_token_that_would_end_its_header_line_is_not_sent() -> None:
    async with serving(keep_answering) as server, github_client(server, bearer="gho\r\nx-injected: 1") as client:
        with pytest.raises(ProviderUnavailable, match=r"could not be reached \(LocalProtocolError\)"):
            await client.get("/user")
    assert server.requests == []


async def test_instrumented_provider_calls_each_have_a_client_span() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with serving(keep_answering) as server:
        provider_http = network_provider_http(server)
        provider_http.instrument(tracer_provider)
        client = provider_http.client("github", StaticTokenSource("github", "gho_token"))
        await client.get(client.path("repos", "acme", "product", "issues"), params={"state": "open"})
        await provider_http.aclose()
    [span] = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("GET", SpanKind.CLIENT)
    assert dict(span.attributes or {}) == {
        "http.method": "GET",
        "http.url": f"{server.url}/sandbox/github/repos/acme/product/issues?state=open",
        "http.status_code": 200,
    }
    # The span's context travels with the request.
    [request] = server.requests
    assert request.headers["traceparent"].split("-")[2] == format(span.context.span_id, "016x")
