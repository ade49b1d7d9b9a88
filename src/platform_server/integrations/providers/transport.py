"""How provider requests reach the wire: the shared keep-alive HTTP/1.1 client (`platform_server.http1`), either
directly (`ProviderWire`, every provider call of a server) or under httpx's client API (`Http1Transport`, for the
few calls made with httpx itself: OAuth token exchanges and refreshes, account lookups).

httpx's own transport (httpcore's pool, h11, anyio streams) cost about a millisecond of our CPU per provider
request, a quarter of a whole `tools/call`; the shared client a tenth of that. Then httpx's client around it
(URL parsing and merging, `Request`/`Response` models, the auth, redirect and cookie machinery, event hooks)
still cost about as much as the exchange itself, so the provider calls skip it: `ProviderClient` builds the
final URL and checks it, and `ProviderWire` sends it with the client's default headers and decodes the answer as
httpx would. Whatever needs httpx's request objects keeps httpx's client: requests served in process (the
sandbox's ASGI shortcut) and clients instrumented by OpenTelemetry (whose spans and propagation headers are the
instrumentation's own).

Failures are httpx's either way: the timeouts of the request (per step, as `httpx.Timeout` counts them) raise
`httpx.TimeoutException` subclasses, everything else on the wire `httpx.TransportError` subclasses, so callers
retry as they did; an answer larger than the pool's limit (as sent, or once `ProviderWire` decoded it) raises
`AnswerTooLarge`, one of them, which is not worth asking for again.
"""

import ssl
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from platform_server.http1 import (
    DEFAULT_PORTS,
    ConnectFailed,
    ConnectionClosed,
    ConnectTimeout,
    Http1Pool,
    Origin,
    PoolTimeout,
    ReadTimeout,
    ResponseTooLarge,
    Timeouts,
    WriteTimeout,
    header_block,
)

# Sent twice at worst when a kept-alive connection was closed under them: methods that mean the same done twice.
_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Written by the shared client itself, from the request line and the body.
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})
_TIMEOUTS = {
    PoolTimeout: httpx.PoolTimeout,
    ConnectTimeout: httpx.ConnectTimeout,
    WriteTimeout: httpx.WriteTimeout,
    ReadTimeout: httpx.ReadTimeout,
}
# Compressed bytes fed to the decoder at a time: one slice inflates to at most about a thousand times its size, so
# a compression bomb is caught within that much of the limit.
_DECODE_SLICE_BYTES = 16 * 1024


class AnswerTooLarge(httpx.TransportError):
    def __init__(self, limit: int, request: httpx.Request | None = None) -> None:
        super().__init__(f"The answer is larger than {limit} bytes", request=request)
        self.limit = limit


def provider_pool(
    tls: Callable[[], ssl.SSLContext], *, max_response_bytes: int | None, max_connections: int = 50
) -> Http1Pool:
    """The keep-alive connections of one provider's clients (its `ProviderWire` and its httpx client share them);
    `max_response_bytes` bounds each answer as sent."""
    return Http1Pool(
        {},
        tls=tls,
        max_response_bytes=max_response_bytes,
        max_connections=max_connections,
        max_idle_connections=20,
        keepalive_seconds=30,
    )


def timeouts_of(timeout: httpx.Timeout) -> Timeouts:
    return Timeouts(timeout.pool, timeout.connect, timeout.write, timeout.read)


async def _exchange(
    pool: Http1Pool,
    origin: Origin,
    method: str,
    target: str,
    headers: bytes,
    body: bytes,
    timeouts: Timeouts,
    request: httpx.Request | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One exchange, its answer read whole; failures raised as httpx raises them."""
    try:
        response = await pool.exchange(
            origin, method, target, headers, body, replayable=method in _REPLAYABLE, timeouts=timeouts
        )
        try:
            content = await response.read()
        except BaseException:
            response.discard()
            raise
        await response.aclose()
    except TimeoutError as exc:
        raise _TIMEOUTS.get(type(exc), httpx.ReadTimeout)(str(exc), request=request) from exc
    except ResponseTooLarge as exc:
        raise AnswerTooLarge(exc.limit, request) from exc
    except ConnectFailed as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except ConnectionClosed as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except OSError as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
    except ValueError as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    return response.status_code, response.headers, content


def _header_lines(headers: dict[str, str], request: httpx.Request | None = None) -> bytes:
    try:
        return header_block({name: value for name, value in headers.items() if name.lower() not in _OWN_HEADERS})
    except ValueError as exc:
        raise httpx.LocalProtocolError(str(exc), request=request) from None


class Http1Transport(httpx.AsyncBaseTransport):
    """httpx's transport API over a shared pool: keep-alive HTTP/1.1 over TCP or TLS, bodies read whole."""

    def __init__(self, pool: Http1Pool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in DEFAULT_PORTS or not url.host:
            raise httpx.UnsupportedProtocol(f"Cannot request {url}: only http(s) URLs with a host", request=request)
        origin = Origin(url.scheme, url.host, url.port or DEFAULT_PORTS[url.scheme])
        headers = _header_lines(
            {name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers.raw}, request
        )
        timeout = request.extensions.get("timeout", {})
        timeouts = Timeouts(timeout.get("pool"), timeout.get("connect"), timeout.get("write"), timeout.get("read"))
        body = await request.aread()
        status_code, response_headers, content = await _exchange(
            self._pool, origin, request.method, url.raw_path.decode("ascii"), headers, body, timeouts, request
        )
        return httpx.Response(
            status_code,
            headers=list(response_headers.items()),
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self._pool.close()


@dataclass(frozen=True, slots=True)
class WireRequest:
    """A provider request as it goes out: its final URL (checked by the client before it was built), that URL's
    path and query, the request's own headers (the client's defaults are added on the way) and its body."""

    method: str
    url: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class WireResponse:
    status_code: int
    headers: httpx.Headers
    # Decoded as httpx decodes (gzip, deflate, identity).
    content: bytes


class ProviderWire:
    """Sends one provider's requests, all to the origin of its httpx client's base URL: straight through the shared
    HTTP/1.1 pool, or through the httpx client itself when `pool` is None (see the module docstring). Nothing is
    followed (redirects) or kept (cookies) either way."""

    def __init__(self, http: httpx.AsyncClient, pool: Http1Pool | None = None) -> None:
        self.http = http
        base = http.base_url
        # What a path under the base is appended to, as httpx merges them: the base without its trailing slash.
        self.base_url = str(base).removesuffix("/")
        self.base_raw_path = base.raw_path.decode("ascii").removesuffix("/")
        self.base_path = base.path
        self._pool = pool if base.scheme in DEFAULT_PORTS and base.host else None
        self._origin = Origin(base.scheme, base.host, base.port or DEFAULT_PORTS.get(base.scheme, 0))
        # The httpx client's own defaults (Accept, Accept-Encoding, Connection, User-Agent), sent the same way.
        self._default_headers = _header_lines(dict(http.headers))
        self._timeouts = timeouts_of(http.timeout)

    @property
    def direct(self) -> bool:
        return self._pool is not None

    def through_httpx(self) -> None:
        """From now on every request goes through the httpx client (e.g. once it is instrumented)."""
        self._pool = None

    async def send(self, request: WireRequest) -> WireResponse:
        if self._pool is None:
            response = await self.http.send(
                # An empty body as none, as httpx builds a GET (no `Content-Length: 0`).
                self.http.build_request(
                    request.method, request.url, headers=request.headers, content=request.body or None
                ),
                follow_redirects=False,
            )
            return WireResponse(response.status_code, response.headers, response.content)
        status_code, raw_headers, content = await _exchange(
            self._pool,
            self._origin,
            request.method,
            request.target,
            self._default_headers + _header_lines(request.headers),
            request.body,
            self._timeouts,
        )
        headers = httpx.Headers(list(raw_headers.items()))
        if "content-encoding" in raw_headers:
            content = _decoded(status_code, headers, content, self._pool.max_response_bytes)
        return WireResponse(status_code, headers, content)


def _decoded(status_code: int, headers: httpx.Headers, content: bytes, limit: int | None) -> bytes:
    """`content` decoded by httpx's own decoders (chains and unknown codings included), fed a slice at a time so
    that a small answer inflating past `limit` is refused before it is all in memory (`AnswerTooLarge`)."""
    slices = (content[start : start + _DECODE_SLICE_BYTES] for start in range(0, len(content), _DECODE_SLICE_BYTES))
    decoded: list[bytes] = []
    size = 0
    for part in httpx.Response(status_code, headers=headers, content=slices).iter_bytes():
        size += len(part)
        if limit is not None and size > limit:
            raise AnswerTooLarge(limit)
        decoded.append(part)
    return b"".join(decoded)
