"""A small asyncio HTTP/1.1 load generator: keep-alive connections, prebuilt request bytes, checked answers.

The benchmarks measure servers, so the client must cost far less than they do: httpx spends about a
millisecond of CPU per request, which on a 2-core machine caps any server at a few hundred requests/s. This
client writes prebuilt request bytes and reads the status line, headers and Content-Length body, then checks
that the status is 200 and the body is byte for byte the one expected for that request (each benchmark checks
one answer of each kind in depth before the load, so every later answer is held to a verified one).
"""

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Exchange:
    """Request bytes and the exact body their answer must carry."""

    request: bytes
    expected_body: bytes


class WrongAnswer(RuntimeError):
    pass


def http_request(
    method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b"", host: str = "127.0.0.1"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    port: int, exchanges: Sequence[Exchange], next_index: list[int], count: int, latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while next_index[0] < count:
            index = next_index[0]
            next_index[0] += 1
            exchange = exchanges[index % len(exchanges)]
            started = time.perf_counter()
            writer.write(exchange.request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if head[9:12] != b"200" or body != exchange.expected_body:
                status, excerpt = head[9:12].decode(), body[:300].decode(errors="replace")
                expected = exchange.expected_body[:300].decode(errors="replace")
                raise WrongAnswer(f"request {index} answered {status}: {excerpt!r}; expected 200: {expected!r}")
    finally:
        writer.close()


async def load(port: int, exchanges: Exchange | Sequence[Exchange], count: int, concurrency: int) -> Result:
    """Sends `count` requests (cycling through `exchanges` in order) over `concurrency` connections."""
    prepared = [exchanges] if isinstance(exchanges, Exchange) else exchanges
    latencies: list[float] = []
    next_index = [0]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, prepared, next_index, count, latencies) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        requests_per_second=len(latencies) / elapsed,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    )
