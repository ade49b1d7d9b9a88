"""The network transport of the provider clients: httpx's client API over the shared keep-alive HTTP/1.1 client.

httpx's own transport (httpcore's pool, h11, anyio streams) cost about a millisecond of our CPU per provider
request, a quarter of a whole `tools/call`; this one a tenth of that. Plugged in as an
`httpx.AsyncBaseTransport`, it leaves everything above it as it was: URL building and confinement, default
headers, no redirects followed, no cookies kept, response decoding (gzip), the OpenTelemetry instrumentation
(which wraps the transport of the client) and proxies from the environment (mounted by httpx beside it).

Its failures are httpx's: the timeouts of the request (`httpx.Timeout`, per step) raise `httpx.TimeoutException`
subclasses, everything else on the wire `httpx.TransportError` subclasses, so callers retry as they did.
"""

import ssl
from collections.abc import Callable

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
    Timeouts,
    WriteTimeout,
    header_block,
)

# Sent twice at worst when a kept-alive connection was closed under them: methods that mean the same done twice.
_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Written by the shared client itself, from the request line and the body.
_OWN_HEADERS = frozenset({b"host", b"content-length", b"transfer-encoding"})
_TIMEOUTS = {
    PoolTimeout: httpx.PoolTimeout,
    ConnectTimeout: httpx.ConnectTimeout,
    WriteTimeout: httpx.WriteTimeout,
    ReadTimeout: httpx.ReadTimeout,
}


class Http1Transport(httpx.AsyncBaseTransport):
    """Pooled keep-alive HTTP/1.1 over TCP or TLS (verified with `tls()`), bodies read whole."""

    def __init__(
        self,
        tls: Callable[[], ssl.SSLContext],
        *,
        max_connections: int,
        max_keepalive_connections: int,
        keepalive_expiry: float,
    ) -> None:
        self._pool = Http1Pool(
            {},
            tls=tls,
            max_response_bytes=None,
            max_connections=max_connections,
            max_idle_connections=max_keepalive_connections,
            keepalive_seconds=keepalive_expiry,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in DEFAULT_PORTS or not url.host:
            raise httpx.UnsupportedProtocol(f"Cannot request {url}: only http(s) URLs with a host", request=request)
        origin = Origin(url.scheme, url.host, url.port or DEFAULT_PORTS[url.scheme])
        try:
            headers = header_block(
                {
                    name.decode("latin-1"): value.decode("latin-1")
                    for name, value in request.headers.raw
                    if name.lower() not in _OWN_HEADERS
                }
            )
        except ValueError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from None
        timeout = request.extensions.get("timeout", {})
        timeouts = Timeouts(timeout.get("pool"), timeout.get("connect"), timeout.get("write"), timeout.get("read"))
        body = await request.aread()
        try:
            response = await self._pool.exchange(
                origin,
                request.method,
                url.raw_path.decode("ascii"),
                headers,
                body,
                replayable=request.method in _REPLAYABLE,
                timeouts=timeouts,
            )
            try:
                content = await response.read()
            except BaseException:
                response.discard()
                raise
            await response.aclose()
        except TimeoutError as exc:
            raise _TIMEOUTS.get(type(exc), httpx.ReadTimeout)(str(exc), request=request) from exc
        except ConnectFailed as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except ConnectionClosed as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except ValueError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        return httpx.Response(
            response.status_code,
            headers=list(response.headers.items()),
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self._pool.close()
