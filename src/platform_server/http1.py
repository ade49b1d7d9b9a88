"""A lean keep-alive HTTP/1.1 client: connections pooled per origin, requests written as bytes, answers parsed by
httptools (the C parser uvicorn serves with), bodies streamed and optionally capped.

httpx/httpx2 spend about a millisecond of our CPU per request in their client, httpcore's connection pool and
anyio's streams; this does the same exchange in a tenth of that. Two clients are built on it: the remote MCP
upstream client (`integrations/remote_mcp/http1.py`, which adds its address guard and redirect rules) and the
transport of the provider clients (`integrations/providers/transport.py`). Nothing here follows redirects.
"""

import asyncio
import functools
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

# How long the unread end of an answered event stream may take before its connection is closed instead of kept.
DRAIN_SECONDS = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}
_draining: set[asyncio.Task[None]] = set()
_READ_BYTES = 65536


class ConnectionClosed(ConnectionError):
    """The server closed the connection before its answer was complete."""


class ConnectFailed(ConnectionError):
    """No connection could be opened to the origin (refused, unreachable, TLS handshake or certificate)."""


class ResponseTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The response is larger than {limit} bytes")
        self.limit = limit


class UnsupportedUrl(ValueError):
    """A URL this client cannot reach: a scheme other than http(s), or no host."""


class PoolTimeout(TimeoutError):
    pass


class ConnectTimeout(TimeoutError):
    pass


class WriteTimeout(TimeoutError):
    pass


class ReadTimeout(TimeoutError):
    pass


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds each step of one exchange may take (None: no limit), as httpx counts them: waiting for a free
    connection, opening one, sending, and each read of the answer."""

    pool: float | None = None
    connect: float | None = None
    write: float | None = None
    read: float | None = None


NO_TIMEOUTS = Timeouts()


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> "Origin":
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise UnsupportedUrl(f"The scheme {scheme}: is not allowed; use https")
        if not parts.hostname:
            raise UnsupportedUrl("The URL names no host")
        return cls(scheme, parts.hostname.lower(), parts.port or DEFAULT_PORTS[scheme])

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@functools.lru_cache(maxsize=1024)
def request_target(url: str) -> str:
    """The path and query of `url`, as the request line names them."""
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


@asynccontextmanager
async def _deadline(seconds: float | None, error: type[TimeoutError]) -> AsyncIterator[None]:
    if seconds is None:
        yield
        return
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise error(f"no progress within {seconds:g} seconds") from None


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

    def __init__(
        self,
        pool: "_OriginPool",
        connection: _Connection,
        max_bytes: int | None,
        read_timeout: float | None,
        *,
        bodiless: bool = False,
    ) -> None:
        self._pool = pool
        self._connection = connection
        self._max_bytes = max_bytes
        self._read_timeout = read_timeout
        # The answer to HEAD has no body, whatever its content-length says (and the parser cannot know).
        self._bodiless = bodiless
        self._received = 0
        self._chunks: list[bytes] = []
        self._headers_done = False
        self._complete = False
        self._reusable = True
        self._closed = False
        self.url = ""
        self.status_code = 0
        self.headers: dict[str, str] = {}
        self._parser = httptools.HttpResponseParser(self)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        decoded = value.decode("latin-1")
        previous = self.headers.get(key)
        self.headers[key] = decoded if previous is None else f"{previous}, {decoded}"

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self.status_code = self._parser.get_status_code()
        # Read here: the parser forgets it once the message is complete.
        self._reusable = self._parser.should_keep_alive()
        if self._bodiless and self.status_code >= 200:
            self._complete = True

    def on_body(self, body: bytes) -> None:
        self._received += len(body)
        if self._max_bytes is not None and self._received > self._max_bytes:
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
        reader = self._connection.reader
        if self._read_timeout is None:
            data = await reader.read(_READ_BYTES)
        else:
            # Not `_deadline`: this runs for every read, and a generator-based context manager costs more.
            try:
                async with asyncio.timeout(self._read_timeout):
                    data = await reader.read(_READ_BYTES)
            except TimeoutError:
                raise ReadTimeout(f"no answer within {self._read_timeout:g} seconds") from None
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

    def discard(self) -> None:
        """Closes the connection instead of handing it back: the answer was given up midway (an error, a timeout,
        a cancelled caller), so what is left of it is not worth reading."""
        if not self._closed:
            self._closed = True
            self._pool.release(self._connection, reusable=False)

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

    def __init__(self, origin: Origin, owner: "Http1Pool") -> None:
        self.origin = origin
        self._owner = owner
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(owner.max_connections)
        self._open: set[_Connection] = set()

    async def acquire(self, timeouts: Timeouts) -> tuple[_Connection, bool]:
        """A connection for one exchange, and whether it was used before."""
        if self._slots.locked():
            async with _deadline(timeouts.pool, PoolTimeout):
                await self._slots.acquire()
        else:
            await self._slots.acquire()
        try:
            while self._idle:
                connection = self._idle.pop()
                if connection.usable(self._owner.keepalive_seconds):
                    return connection, True
                self._discard(connection)
            return await self._connect(timeouts.connect), False
        except BaseException:
            self._slots.release()
            raise

    def release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self._owner.closed and len(self._idle) < self._owner.max_idle_connections:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            self._discard(connection)
        self._slots.release()

    def _discard(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()

    async def _connect(self, seconds: float | None) -> _Connection:
        async with _deadline(seconds, ConnectTimeout):
            reader, writer = await self._owner.open_connection(self.origin)
        connection = _Connection(reader, writer)
        self._open.add(connection)
        return connection

    def close(self) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()


class Http1Pool:
    """Keep-alive connections to any number of origins, safe for concurrent use. `headers` go with every
    request; `max_response_bytes` caps each body as it streams (None: no cap)."""

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        tls: Callable[[], ssl.SSLContext],
        max_response_bytes: int | None,
        max_connections: int,
        keepalive_seconds: float,
        max_idle_connections: int | None = None,
    ) -> None:
        self._headers = header_block(headers)
        self._tls = tls
        self.max_response_bytes = max_response_bytes
        self.max_connections = max_connections
        self.max_idle_connections = max_connections if max_idle_connections is None else max_idle_connections
        self.keepalive_seconds = keepalive_seconds
        self.closed = False
        self._pools: dict[Origin, _OriginPool] = {}

    async def open_connection(
        self, origin: Origin, address: str | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A new connection to `origin` (at `address` when given; TLS verifies the origin's name either way)."""
        tls = self._tls() if origin.scheme == "https" else None
        try:
            return await asyncio.open_connection(
                address or origin.host,
                origin.port,
                ssl=tls,
                server_hostname=origin.host if tls is not None else None,
                limit=_READ_BYTES,
            )
        except OSError as exc:
            raise ConnectFailed(f"{origin.host_header}: {exc}") from exc

    async def exchange(
        self,
        origin: Origin,
        method: str,
        target: str,
        headers: bytes,
        body: bytes = b"",
        *,
        replayable: bool,
        timeouts: Timeouts = NO_TIMEOUTS,
    ) -> Response:
        """Sends `method target` to `origin` and answers once the answer's headers came; the caller reads its
        body and must `aclose` it. `replayable` requests (the server cannot have acted on them twice) are sent
        once more on a fresh connection when a kept-alive one turns out to have been closed by the server."""
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _OriginPool(origin, self)
        head = (f"{method} {target} HTTP/1.1\r\nhost: {origin.host_header}\r\ncontent-length: {len(body)}\r\n").encode(
            "latin-1"
        )
        message = head + self._headers + headers + b"\r\n" + body
        for attempt in range(2):
            connection, reused = await pool.acquire(timeouts)
            response = Response(pool, connection, self.max_response_bytes, timeouts.read, bodiless=method == "HEAD")
            try:
                writer = connection.writer
                writer.write(message)
                if writer.transport.get_write_buffer_size():
                    async with _deadline(timeouts.write, WriteTimeout):
                        await writer.drain()
                await response._start()
            except ConnectionError:
                pool.release(connection, reusable=False)
                # A kept-alive connection the server closed while idle, before it answered anything: once more
                # on a fresh one, as HTTP clients do, when sending it twice cannot do anything twice.
                if reused and replayable and response.status_code == 0 and attempt == 0:
                    continue
                raise
            except BaseException:
                pool.release(connection, reusable=False)
                raise
            return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.closed = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
