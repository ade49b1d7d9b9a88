"""The HTTP/1.1 client of the federated hot path: keep-alive connections to one upstream, requests written as
bytes, answers parsed by httptools (the C parser uvicorn serves with), bodies streamed and capped.

A `tools/call` through httpx2 cost about 1.3 ms of our CPU on its own (its client, httpcore's connection
pool and anyio streams), more than the gateway's other work and than the upstream's own: this client does the
same exchange in a tenth of that. It keeps the rules of `net.GuardedTransport`: https to public addresses only
unless private ones are allowed, every address the name resolves to checked and the connection made to the
checked address (TLS verifying the name), the response body counted while it streams. It follows a redirect
only as MCP's transports do (`stream_within_origin`): 307 and 308, which keep the method and body, within the
request's origin (or its https upgrade on default ports), at most `MAX_REDIRECTS` times.
"""

import asyncio
import functools
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httptools
import httpx2

from platform_server.integrations.remote_mcp.net import AddressRefused, ResponseTooLarge, resolve_public_address

MAX_REDIRECTS = 20
# How long the unread end of an answered event stream may take before its connection is closed instead of kept.
DRAIN_SECONDS = 5.0
_draining: set[asyncio.Task[None]] = set()
_READ_BYTES = 65536
_FOLLOWED = frozenset({307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ssl_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    # The context httpx2 would use (its CA bundle), built once: loading the CAs costs milliseconds.
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx2.create_ssl_context()
    return _ssl_context


class ConnectionClosed(OSError):
    """The server closed the connection before its answer was complete."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> "Origin":
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise AddressRefused(f"The scheme {scheme}: is not allowed; use https")
        if not parts.hostname:
            raise AddressRefused("The URL names no host")
        return cls(scheme, parts.hostname.lower(), parts.port or _DEFAULT_PORTS[scheme])

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def admits(self, other: "Origin") -> bool:
        """`other` is this origin, or its https upgrade on the default ports."""
        return other == self or (
            other.host == self.host
            and self.scheme == "http"
            and self.port == 80
            and other.scheme == "https"
            and other.port == 443
        )


# Every call of a session names the same URL.
_origin = functools.lru_cache(maxsize=1024)(Origin.of)


@functools.lru_cache(maxsize=1024)
def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def header_block(headers: Mapping[str, str]) -> bytes:
    """Header lines, refused when a name or value could end the line early (header injection)."""
    lines = []
    for name, value in headers.items():
        if any(character in name + value for character in "\r\n\0") or ":" in name:
            raise ValueError(f"the header {name!r} cannot be sent")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def usable(self, keepalive_seconds: float) -> bool:
        """Idle for less than `keepalive_seconds`, and not closed by the server meanwhile (its FIN was read)."""
        return (
            time.monotonic() - self.idle_since < keepalive_seconds
            and not self.writer.is_closing()
            and not self.reader.at_eof()
        )

    def close(self) -> None:
        self.writer.close()


class Response:
    """An answer whose body is read on demand (`read`, `iter_bytes`); `aclose` hands the connection back."""

    def __init__(self, pool: "_OriginPool", connection: _Connection, max_bytes: int) -> None:
        self._pool = pool
        self._connection = connection
        self._max_bytes = max_bytes
        self._received = 0
        self._chunks: list[bytes] = []
        self._headers_done = False
        self._complete = False
        self._reusable = True
        self._closed = False
        self.url = ""
        self.status_code = 0
        self.headers: dict[str, str] = {}
        self._name = ""
        self._parser = httptools.HttpResponseParser(self)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._name = name.decode("latin-1").lower()
        decoded = value.decode("latin-1")
        previous = self.headers.get(self._name)
        self.headers[self._name] = decoded if previous is None else f"{previous}, {decoded}"

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self.status_code = self._parser.get_status_code()
        # Read here: the parser forgets it once the message is complete.
        self._reusable = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._received += len(body)
        if self._received > self._max_bytes:
            raise ResponseTooLarge(self._max_bytes)
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        self._complete = True

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    async def _feed(self) -> bool:
        """Reads once from the connection into the parser; False at the end of the answer."""
        if self._complete:
            return False
        data = await self._connection.reader.read(_READ_BYTES)
        if not data:
            # A body without a length ends with the connection; anything else was cut short.
            if self._headers_done and "content-length" not in self.headers and not self._chunked:
                self._complete = True
                self._reusable = False
                return False
            raise ConnectionClosed("The remote server closed the connection before answering")
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, ResponseTooLarge):
                raise cause from None
            raise ValueError("the answer is not HTTP/1.1") from None
        return True

    @property
    def _chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    async def _start(self) -> None:
        while not self._headers_done:
            if not await self._feed():
                raise ConnectionClosed("The remote server closed the connection before answering")
        if self.status_code < 200:
            raise ValueError("interim answers (1xx) are not expected")

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                chunks, self._chunks = self._chunks, []
                for chunk in chunks:
                    yield chunk
            if not await self._feed() and not self._chunks:
                return

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_bytes()])

    async def iter_lines(self) -> AsyncIterator[str]:
        """Lines as an event stream splits them (CRLF, LF or CR), decoded as UTF-8."""
        buffer = ""
        async for chunk in self.iter_bytes():
            buffer += chunk.decode("utf-8", errors="replace")
            # A CR at the end may be the first half of a CRLF: keep it for the next chunk.
            held = buffer.endswith("\r")
            lines = (buffer[:-1] if held else buffer).replace("\r\n", "\n").replace("\r", "\n").split("\n")
            buffer = lines.pop() + ("\r" if held else "")
            for line in lines:
                yield line
        if buffer.rstrip("\r"):
            yield buffer.rstrip("\r")

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._complete or not self._headers_done:
            self._release()
            return
        # An event stream the caller stopped reading once its answer came: the server ends it right after, so
        # its end is read in the background and the connection kept, without the caller waiting for it.
        task = asyncio.create_task(self._drain())
        _draining.add(task)
        task.add_done_callback(_draining.discard)

    async def _drain(self) -> None:
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                while await self._feed():
                    self._chunks.clear()
        except (TimeoutError, OSError, ValueError, ResponseTooLarge):
            self._reusable = False
        finally:
            self._release()

    def _release(self) -> None:
        reusable = self._complete and self._reusable
        self._pool.release(self._connection, reusable)


class _OriginPool:
    """Keep-alive connections to one origin, at most `max_connections` open at a time."""

    def __init__(self, origin: Origin, owner: "Http1Client") -> None:
        self.origin = origin
        self._owner = owner
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(owner.max_connections)
        self._open: set[_Connection] = set()

    async def acquire(self) -> tuple[_Connection, bool]:
        """A connection for one exchange, and whether it was used before."""
        await self._slots.acquire()
        try:
            while self._idle:
                connection = self._idle.pop()
                if connection.usable(self._owner.keepalive_seconds):
                    return connection, True
                self._discard(connection)
            return await self._connect(), False
        except BaseException:
            self._slots.release()
            raise

    def release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self._owner.closed:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            self._discard(connection)
        self._slots.release()

    def _discard(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()

    async def _connect(self) -> _Connection:
        origin = self.origin
        host = origin.host
        if not self._owner.allow_private:
            if origin.scheme != "https":
                raise AddressRefused("Remote servers must be reached over https")
            host = await resolve_public_address(origin.host, origin.port)
        tls = _tls() if origin.scheme == "https" else None
        reader, writer = await asyncio.open_connection(
            host, origin.port, ssl=tls, server_hostname=origin.host if tls is not None else None, limit=_READ_BYTES
        )
        connection = _Connection(reader, writer)
        self._open.add(connection)
        return connection

    def close(self) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()


class Http1Client:
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
        self._headers = header_block(headers)
        self.allow_private = allow_private
        self.max_response_bytes = max_response_bytes
        self.max_connections = max_connections
        self.keepalive_seconds = keepalive_seconds
        self.closed = False
        self._pools: dict[Origin, _OriginPool] = {}

    async def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes = b"") -> "Response":
        """The answer to `method url`, redirects followed as MCP's transports follow them; the caller reads its
        body and must `aclose` it."""
        origin = _origin(url)
        extra = header_block(headers)
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._exchange(origin, method, url, extra, body)
            location = response.headers.get("location")
            if response.status_code not in _FOLLOWED or location is None:
                return response
            next_url = urljoin(url, location)
            next_origin = _origin(next_url)
            if urlsplit(next_url).username is not None or not origin.admits(next_origin):
                return response
            # Drained, so that the connection goes back to the pool.
            await response.read()
            await response.aclose()
            url, origin = next_url, next_origin
        return response

    async def _exchange(self, origin: Origin, method: str, url: str, headers: bytes, body: bytes) -> Response:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _OriginPool(origin, self)
        head = (
            f"{method} {_target(url)} HTTP/1.1\r\nhost: {origin.host_header}\r\ncontent-length: {len(body)}\r\n"
        ).encode("latin-1")
        message = head + self._headers + headers + b"\r\n" + body
        for attempt in range(2):
            connection, reused = await pool.acquire()
            response = Response(pool, connection, self.max_response_bytes)
            response.url = url
            try:
                connection.writer.write(message)
                await response._start()
            except ConnectionClosed:
                pool.release(connection, reusable=False)
                # A kept-alive connection the server closed while idle, before it read this request (no answer
                # came): once more on a fresh one, as HTTP clients do.
                if reused and response.status_code == 0 and attempt == 0:
                    continue
                raise
            except BaseException:
                pool.release(connection, reusable=False)
                raise
            return response
        raise AssertionError("unreachable")

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

    def close(self) -> None:
        self.closed = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
