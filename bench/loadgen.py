"""A small asyncio HTTP/1.1 load generator: keep-alive connections, prebuilt request bytes, latencies.

The benchmarks measure servers, so the client must cost far less than they do: httpx spends about a
millisecond of CPU per request, which on a 2-core machine caps any server at a few hundred requests/s. This
client writes prebuilt request bytes and reads the status line, headers and Content-Length body, nothing more.
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


def http_request(method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    port: int, requests: Sequence[bytes], next_index: list[int], count: int, latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while next_index[0] < count:
            index = next_index[0]
            next_index[0] += 1
            started = time.perf_counter()
            writer.write(requests[index % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if head[9:12] != b"200":
                status, excerpt = head[9:12].decode(), body[:500].decode(errors="replace")
                raise RuntimeError(f"request {index} answered {status}: {excerpt}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(port: int, requests: bytes | Sequence[bytes], count: int, concurrency: int) -> Result:
    """Sends `count` requests (cycling through `requests` in order) over `concurrency` connections."""
    prepared = [requests] if isinstance(requests, bytes) else requests
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
