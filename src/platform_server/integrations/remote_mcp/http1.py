"""The HTTP/1.1 client of the federated hot path: the shared keep-alive client (`platform_server.http1`) with
the rules of `net.GuardedTransport`.

https to public addresses only unless private ones are allowed, every address the name resolves to checked and
the connection made to the checked address (TLS verifying the name), the response body counted while it
streams. It follows a redirect only as MCP's transports do (`stream_within_origin`): 307 and 308, which keep the
method and body, within the request's origin (or its https upgrade on default ports), at most `MAX_REDIRECTS`
times.
"""

import asyncio
import functools
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import urljoin, urlsplit

import httpx2

from platform_server.http1 import Http1Pool, Origin, Response, UnsupportedUrl, header_block, request_target
from platform_server.integrations.remote_mcp.net import AddressRefused, resolve_public_address

MAX_REDIRECTS = 20
_FOLLOWED = frozenset({307, 308})
_ssl_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    # The context httpx2 would use (its CA bundle), built once: loading the CAs costs milliseconds.
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx2.create_ssl_context()
    return _ssl_context


@functools.lru_cache(maxsize=1024)
def _origin(url: str) -> Origin:
    # Every call of a session names the same URL.
    try:
        return Origin.of(url)
    except UnsupportedUrl as exc:
        raise AddressRefused(str(exc)) from None


def _admits(origin: Origin, other: Origin) -> bool:
    """`other` is `origin`, or its https upgrade on the default ports."""
    return other == origin or (
        other.host == origin.host
        and origin.scheme == "http"
        and origin.port == 80
        and other.scheme == "https"
        and other.port == 443
    )


class Http1Client(Http1Pool):
    """Requests to one upstream (the origins its redirects may lead to included), safe for concurrent use."""

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        allow_private: bool,
        max_response_bytes: int,
        max_connections: int,
        keepalive_seconds: float,
    ) -> None:
        super().__init__(
            headers,
            tls=_tls,
            max_response_bytes=max_response_bytes,
            max_connections=max_connections,
            keepalive_seconds=keepalive_seconds,
        )
        self.allow_private = allow_private

    async def open_connection(
        self, origin: Origin, address: str | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not self.allow_private:
            if origin.scheme != "https":
                raise AddressRefused("Remote servers must be reached over https")
            address = await resolve_public_address(origin.host, origin.port)
        return await super().open_connection(origin, address)

    async def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes = b"") -> Response:
        """The answer to `method url`, redirects followed as MCP's transports follow them; the caller reads its
        body and must `aclose` it."""
        origin = _origin(url)
        extra = header_block(headers)
        for _ in range(MAX_REDIRECTS + 1):
            # Every request is sent again when a kept-alive connection was closed before it was answered: an
            # upstream closes idle connections without knowing a request is on its way.
            response = await self.exchange(origin, method, request_target(url), extra, body, replayable=True)
            response.url = url
            location = response.headers.get("location")
            if response.status_code not in _FOLLOWED or location is None:
                return response
            next_url = urljoin(url, location)
            next_origin = _origin(next_url)
            if urlsplit(next_url).username is not None or not _admits(origin, next_origin):
                return response
            # Drained, so that the connection goes back to the pool.
            await response.read()
            await response.aclose()
            url, origin = next_url, next_origin
        return response

    @asynccontextmanager
    async def stream(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> AsyncIterator[Response]:
        """`request`, its answer closed at the end whatever happens."""
        response = await self.request(method, url, headers, body)
        try:
            yield response
        finally:
            await response.aclose()
