"""MCP gateway benchmark: `tools/list` and `tools/call` through the gateway, beside its baselines, in one run.

- gateway: `POST /api/workspaces/{id}/mcp` of a real server (`platform-server serve --sandbox`, one uvicorn
  worker, SQLite), authenticated with an API key, GitHub connected through the sandbox's OAuth flow;
- (a) a bare `mcp` SDK server (low-level `Server`, same transport options) returning a static list of the same
  tools — the baseline for `tools/list`;
- (b) a direct call to the sandbox endpoint behind `github_list_issues` (`GET /repos/acme/product/issues`) with
  a sandbox token — the baseline for `tools/call`; the gateway's extra cost is everything on top of it.

All requests are 2026-07-28 JSON-RPC POSTs over loopback from this process. Latency is measured one request
at a time (p50/p99), throughput with `--concurrency` requests in flight. Goals (issue 5): tools/list
throughput >= 0.5 x (a); tools/call p50 <= (b) p50 + 2 ms.

    .venv/bin/python bench/bench_gateway.py [--requests 400] [--concurrency 8]
"""

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}
LIST_ISSUES = {"name": "github_list_issues", "arguments": {"repo": "acme/product", "state": "open", "perPage": 10}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rpc(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**(params or {}), "_meta": META}}


def rpc_headers(method: str, name: str | None = None) -> dict[str, str]:
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


# -- the bare SDK server (baseline a) ------------------------------------------------------------------------


def serve_bare(port: int) -> None:
    """A bare low-level `Server` with a static list of the gateway's tools, served like the gateway is."""
    import uvicorn
    from mcp.server import Server
    from mcp_types import CallToolResult, ListToolsResult, TextContent

    from platform_server.config import Settings
    from platform_server.gateway.executor import CATALOG
    from platform_server.gateway.server import transport_security

    tools = [tool.mcp_tool for tool in CATALOG.values()]

    async def list_tools(_ctx: Any, _params: Any) -> ListToolsResult:
        return ListToolsResult(tools=tools, cache_scope="private", ttl_ms=0)

    async def call_tool(_ctx: Any, _params: Any) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text="{}")], structured_content={})

    server: Server[Any] = Server("bare", on_list_tools=list_tools, on_call_tool=call_tool)
    public = f"http://127.0.0.1:{port}"
    security = transport_security(Settings(_env_file=None, PUBLIC_BASE_URL=public))  # type: ignore[call-arg]
    mcp_app = server.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True, transport_security=security
    )
    # The SDK's own app runs the session manager in its lifespan.
    uvicorn.run(
        mcp_app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning", access_log=False
    )


# -- servers -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], health_url: str) -> Iterator[subprocess.Popen[bytes]]:
    # Our own interpreter and console script, with arguments built here.
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            # Any HTTP answer means the server is up (the bare server answers a plain GET with an error).
            with contextlib.suppress(httpx.TransportError):
                httpx.request("OPTIONS", health_url, timeout=1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not start")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def gateway_env(tmp: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        "PLATFORM_SANDBOX": "1",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "bench-secret-key-0123456789-bench-secret-key",
        "LOG_LEVEL": "WARNING",
        # The benchmark sends far more than a plan's per-minute allowance; the limiter has its own benchmark.
        "RATE_LIMIT_ENABLED": "false",
    }


# -- setup through the public API ----------------------------------------------------------------------------


async def approve(http: httpx.AsyncClient, oauth_url: str) -> str:
    """Submits the sandbox consent page's Approve button; answers where the provider redirects."""
    parts = urlsplit(oauth_url)
    form = {**dict(parse_qsl(parts.query)), "decision": "approve"}
    response = await http.post(parts.path, data=form)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def connect_github(http: httpx.AsyncClient, key: str, workspace_id: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    created = await http.post("/api/integrations", json={"provider": "github", "name": "GitHub"}, headers=auth)
    assert created.status_code == 201, created.text
    callback = await http.get(await approve(http, created.json()["oauthUrl"]))
    assert "success=github" in callback.headers.get("location", ""), callback.text
    enabled = await http.post(
        f"/api/workspaces/{workspace_id}/integrations",
        json={"integrationId": created.json()["integration"]["id"], "defaultProject": "acme/product"},
        headers=auth,
    )
    assert enabled.status_code in (200, 201), enabled.text


async def sandbox_token(http: httpx.AsyncClient, base: str) -> str:
    """A GitHub sandbox token obtained like any OAuth app would, for the direct-call baseline."""
    redirect_uri = f"{base}/api/integrations/oauth/callback"
    query = {"client_id": "sandbox-github", "redirect_uri": redirect_uri, "state": "bench", "scope": "repo"}
    location = await approve(http, f"/sandbox/github/login/oauth/authorize?{httpx.QueryParams(query)}")
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    response = await http.post(
        "/sandbox/github/login/oauth/access_token",
        data={
            "client_id": "sandbox-github",
            "client_secret": "sandbox-secret-github",
            "code": code,
            "redirect_uri": redirect_uri,
        },
        headers={"Accept": "application/json"},
    )
    token: str = response.json()["access_token"]
    return token


# -- measurement ---------------------------------------------------------------------------------------------


class Result:
    def __init__(self, name: str, latencies: list[float], throughput: float) -> None:
        self.name = name
        self.latencies = sorted(latencies)
        self.throughput = throughput

    def pct(self, q: float) -> float:
        return self.latencies[min(len(self.latencies) - 1, int(q * len(self.latencies)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000

    def line(self) -> str:
        p99 = self.pct(0.99)
        return f"{self.name:<34} {self.throughput:>9.0f} req/s   p50 {self.p50:>7.2f} ms   p99 {p99:>7.2f} ms"


async def measure(
    name: str, send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]], http: httpx.AsyncClient, n: int, c: int
) -> Result:
    for _ in range(20):  # warm-up: connections, caches, JIT-free but lazy imports
        response = await send(http)
        assert response.status_code == 200, response.text
        body = response.json()
        if isinstance(body, dict):  # a JSON-RPC answer (the sandbox answers GitHub's list)
            assert "error" not in body, response.text
            assert not (body.get("result") or {}).get("isError"), response.text
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        await send(http)
        latencies.append(time.perf_counter() - started)
    remaining = n * 2

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send(http)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(c)))
    return Result(name, latencies, n * 2 / (time.perf_counter() - started))


@contextlib.asynccontextmanager
async def client(base: str, headers: dict[str, str] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        yield http


def prepare(tmp: Path, env: dict[str, str]) -> dict[str, str]:
    """A migrated database with a team, its owner's API key and a workspace (the CLI's bootstrap)."""
    cli = str(Path(PYTHON).parent / "platform-server")
    subprocess.run([cli, "migrate"], env=env, cwd=tmp, check=True, capture_output=True)  # noqa: S603
    boot = subprocess.run(  # noqa: S603
        [cli, "bootstrap", "--team", "Bench", "--email", "bench@example.com"],
        env=env,
        cwd=tmp,
        check=True,
        capture_output=True,
    )
    ids: dict[str, str] = json.loads(boot.stdout)
    return ids


def run(requests: int, concurrency: int) -> None:
    gateway_port, bare_port = free_port(), free_port()
    base = f"http://127.0.0.1:{gateway_port}"
    with tempfile.TemporaryDirectory() as tmpdir:
        env = gateway_env(Path(tmpdir), gateway_port)
        ids = prepare(Path(tmpdir), env)
        serve = [str(Path(PYTHON).parent / "platform-server"), "serve", "--port", str(gateway_port), "--no-migrate"]
        bare = [PYTHON, __file__, "--bare-server", str(bare_port)]
        with (
            process([*serve, "--sandbox"], env, f"{base}/healthz"),
            process(bare, dict(os.environ), f"http://127.0.0.1:{bare_port}/mcp"),
        ):
            results = asyncio.run(measure_all(base, f"http://127.0.0.1:{bare_port}", ids, requests, concurrency))
    report(results, requests, concurrency)


async def measure_all(base: str, bare_base: str, ids: dict[str, str], requests: int, concurrency: int) -> list[Result]:
    async with client(base) as setup:
        await connect_github(setup, ids["api_key"], ids["workspace_id"])
        token = await sandbox_token(setup, base)
    mcp_path = f"/api/workspaces/{ids['workspace_id']}/mcp"
    auth = {"Authorization": f"Bearer {ids['api_key']}"}
    list_body, list_headers = rpc("tools/list"), rpc_headers("tools/list")
    call_body, call_headers = rpc("tools/call", LIST_ISSUES), rpc_headers("tools/call", LIST_ISSUES["name"])
    issues_params = {"state": "open", "per_page": 10}
    github_headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    async with (
        client(base, auth) as gateway,
        client(bare_base) as bare_http,
        client(base, github_headers) as direct,
    ):
        return [
            await measure(
                "tools/list  bare SDK server (a)",
                lambda h: h.post("/mcp", json=list_body, headers=list_headers),
                bare_http,
                requests,
                concurrency,
            ),
            await measure(
                "tools/list  gateway",
                lambda h: h.post(mcp_path, json=list_body, headers=list_headers),
                gateway,
                requests,
                concurrency,
            ),
            await measure(
                "GET issues  sandbox direct (b)",
                lambda h: h.get("/sandbox/github/repos/acme/product/issues", params=issues_params),
                direct,
                requests,
                concurrency,
            ),
            await measure(
                "tools/call  gateway (list_issues)",
                lambda h: h.post(mcp_path, json=call_body, headers=call_headers),
                gateway,
                requests,
                concurrency,
            ),
        ]


def report(results: list[Result], requests: int, concurrency: int) -> None:
    bare_list, gateway_list, direct_call, gateway_call = results
    print(f"MCP gateway benchmark: {requests} sequential + {requests * 2} at concurrency {concurrency}, loopback")
    for result in results:
        print(result.line())
    ratio = gateway_list.throughput / bare_list.throughput
    added = gateway_call.p50 - direct_call.p50
    print(f"tools/list throughput ratio to bare SDK server: {ratio:.2f} (goal >= 0.5)")
    added_p99 = gateway_call.pct(0.99) - direct_call.pct(0.99)
    print(f"tools/call added latency over direct sandbox call: p50 {added:.2f} ms (goal <= 2 ms), p99 {added_p99:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server)
        return
    run(args.requests, args.concurrency)


if __name__ == "__main__":
    main()
