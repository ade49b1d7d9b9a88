"""Remote MCP servers: a federated `tools/call` through the workspace endpoint ÷ the same call made to the upstream.

The goal (issue 17): the gateway costs at most as much as the upstream's own work, so federated `tools/call`
throughput at least half the upstream's, both measured by the same load generator in the same run.

- The upstream: a stateless `mcp` SDK server (low-level `Server`, Streamable HTTP, JSON responses; uvicorn +
  uvloop + httptools, one process) with the reference server's `echo` tool (`{"message"}` → `Echo: <message>`).
  Not `@modelcontextprotocol/server-everything` itself: it binds every client to a session and answers each POST
  as an SSE stream whose event id is a fresh UUID, sent chunked, so no two answers are the same bytes, which is
  what the load generator checks every answer against (its Content-Length bodies); it also logs each request.
  The SDK server answers the same call with the same bytes every time, and its work is what the goal's
  denominator means: an upstream doing its own work, and nothing of ours.
- The gateway: `platform-server serve` (one worker, SQLite, rate limit off, logs at WARNING) with
  `REMOTE_MCP_ALLOW_PRIVATE=true`, since the upstream listens on loopback. The upstream is connected as an
  integration of kind "mcp" (`POST /api/integrations {"kind": "mcp", "name", "url", "transport":
  "streamable_http", "auth": {"type": "none"}}`, answered connected with its `remoteServer.slug`), its
  `<slug>__echo` tool enabled in the workspace, and called at `/api/workspaces/{id}/mcp`.

Targets, each answer checked (status 200 and the exact bytes of an answer first checked in depth: not an error,
the text `Echo: <message>`, identical on repeat): `tools/call echo direct (upstream)` and `tools/call
<slug>__echo federated (gateway)`; `GET /healthz` of the gateway beside them, the app's floor.

`--upstream-only` measures the direct half alone.

    .venv/bin/python bench/bench_remote_mcp.py [--requests 2000] [--concurrency 16] [--runs 5] [--warmup 300]
    .venv/bin/python bench/bench_remote_mcp.py --upstream-only
"""

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from common import (
    PYTHON,
    Server,
    Target,
    add_service_options,
    bootstrap,
    check,
    client,
    conditions,
    free_port,
    http_parser,
    measure,
    ratio_line,
    rpc,
    rpc_headers,
    serve_mcp,
    server_env,
    services,
    summary,
)
from loadgen import Exchange, WrongAnswer, http_request

TOOL = "echo"
MESSAGE = "hello from the load generator"
EXPECTED_TEXT = f"Echo: {MESSAGE}"
UPSTREAM_PATH = "/mcp"
GOAL = 0.50


# -- the upstream ----------------------------------------------------------------------------------------------


def serve_upstream(port: int) -> None:
    """The upstream MCP server: the reference server's `echo` tool on a stateless SDK server, JSON responses."""
    from mcp.server import Server as McpServer
    from mcp.server.transport_security import TransportSecuritySettings
    from mcp_types import CallToolResult, ListToolsResult, TextContent, Tool

    echo = Tool(
        name=TOOL,
        description="Echoes back the input string",
        input_schema={
            "type": "object",
            "properties": {"message": {"type": "string", "description": "Message to echo"}},
            "required": ["message"],
        },
    )

    async def list_tools(_ctx: Any, _params: Any) -> ListToolsResult:
        return ListToolsResult(tools=[echo], cache_scope="public", ttl_ms=0)

    async def call_tool(_ctx: Any, params: Any) -> CallToolResult:
        if params.name != TOOL:
            return CallToolResult(content=[TextContent(type="text", text=f"Unknown tool {params.name}")], is_error=True)
        message = (params.arguments or {}).get("message", "")
        return CallToolResult(content=[TextContent(type="text", text=f"Echo: {message}")])

    server: McpServer[Any] = McpServer(
        "bench-echo-upstream", version="1", on_list_tools=list_tools, on_call_tool=call_tool
    )
    host = f"127.0.0.1:{port}"
    serve_mcp(server, port, TransportSecuritySettings(allowed_hosts=[host], allowed_origins=[f"http://{host}"]))


def check_echo(answer: Any, what: str) -> None:
    """One `tools/call` answer checked in depth: a result, not an error, with the echoed text."""
    check(answer.status_code == 200, f"{what}: HTTP {answer.status_code} {answer.text[:300]}")
    body = answer.json()
    check("result" in body, f"{what}: {answer.text[:300]}")
    result = body["result"]
    check(not result.get("isError"), f"{what} is an error: {answer.text[:300]}")
    check(
        [block.get("text") for block in result["content"] if block.get("type") == "text"] == [EXPECTED_TEXT],
        f"{what}: {answer.text[:300]}",
    )


async def upstream_exchange(upstream: Server) -> Exchange:
    body = rpc("tools/call", {"name": TOOL, "arguments": {"message": MESSAGE}})
    headers = rpc_headers("tools/call", TOOL)
    async with client(upstream.base_url) as http:
        answers = [await http.post(UPSTREAM_PATH, content=body, headers=headers) for _ in range(2)]
    for answer in answers:
        check_echo(answer, "tools/call echo direct")
    check(answers[0].content == answers[1].content, "the upstream's answers differ between calls")
    return Exchange(
        http_request("POST", UPSTREAM_PATH, headers, body, f"127.0.0.1:{upstream.port}"), answers[0].content
    )


# -- the gateway half ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gateway:
    server: Server
    workspace_id: str
    api_key: str


async def federate(gateway: Gateway, upstream: Server) -> tuple[Exchange, Exchange]:
    """Connects the upstream as an integration of kind "mcp", enables its echo tool in the workspace, and checks
    the workspace's tool list and one federated call in depth."""
    auth = {"Authorization": f"Bearer {gateway.api_key}"}
    async with client(gateway.server.base_url, auth) as http:
        created = await http.post(
            "/api/integrations",
            json={
                "kind": "mcp",
                "name": "Echo upstream",
                "url": f"{upstream.base_url}{UPSTREAM_PATH}",
                "transport": "streamable_http",
                "auth": {"type": "none"},
            },
        )
        check(created.status_code == 201, f"connecting the upstream: HTTP {created.status_code} {created.text[:400]}")
        integration = created.json()["integration"]
        slug = (integration.get("remoteServer") or {}).get("slug")
        check(bool(slug) and integration.get("status") == "connected", f"not connected: {integration}")
        tool = f"{slug}__{TOOL}"
        enabled = await http.post(
            f"/api/workspaces/{gateway.workspace_id}/integrations",
            json={"integrationId": integration["id"], "enabledTools": [tool]},
        )
        check(enabled.status_code in (200, 201), f"enabling {tool}: HTTP {enabled.status_code} {enabled.text[:400]}")
        mcp_path = f"/api/workspaces/{gateway.workspace_id}/mcp"
        listed = await http.post(mcp_path, content=rpc("tools/list"), headers=rpc_headers("tools/list"))
        check(listed.status_code == 200, listed.text[:300])
        names = [t["name"] for t in listed.json()["result"]["tools"]]
        check(names == [tool], f"the workspace lists {names}, expected [{tool!r}]")
        body = rpc("tools/call", {"name": tool, "arguments": {"message": MESSAGE}})
        headers = rpc_headers("tools/call", tool)
        answers = [await http.post(mcp_path, content=body, headers=headers) for _ in range(2)]
        health = await http.get("/healthz")
    for answer in answers:
        check_echo(answer, f"tools/call {tool} federated")
    check(answers[0].content == answers[1].content, "the federated answers differ between calls")
    check(health.status_code == 200, health.text)
    call = Exchange(
        http_request("POST", mcp_path, {**headers, **auth}, body, f"127.0.0.1:{gateway.server.port}"),
        answers[0].content,
    )
    return call, Exchange(http_request("GET", "/healthz"), health.content)


# -- the run ---------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-remote-mcp-") as scratch, contextlib.ExitStack() as stack:
        workdir = Path(scratch)
        upstream_port = free_port()
        upstream_command = [PYTHON, __file__, "--upstream-server", str(upstream_port)]
        upstream = stack.enter_context(Server(dict(os.environ), workdir, upstream_port, command=upstream_command))
        direct = asyncio.run(upstream_exchange(upstream))
        targets = [Target("tools/call echo direct (upstream)", upstream, [direct])]
        if not args.upstream_only:
            database_url, settings = stack.enter_context(services(args, workdir))
            port = free_port()
            # The upstream listens on loopback, which remote MCP integrations refuse unless the operator allows it.
            env = server_env(database_url, port, REMOTE_MCP_ALLOW_PRIVATE="true", **settings)
            ids = bootstrap(env, workdir)
            server = stack.enter_context(Server(env, workdir, port, workers=args.workers))
            call, health = asyncio.run(federate(Gateway(server, ids["workspace_id"], ids["api_key"]), upstream))
            targets += [
                Target("tools/call federated (gateway)", server, [call]),
                Target("GET /healthz (gateway)", server, [health]),
            ]
        figures = uvloop.run(measure(targets, args.requests, args.concurrency, args.warmup, args.runs))
    ratios: dict[str, Any] = {}
    if args.upstream_only:
        print("gateway half not run (--upstream-only): no ratio")
    else:
        direct_figures, federated = figures[targets[0].name], figures[targets[1].name]
        ratios["tools_call_ratio"] = round(federated.requests_per_second / direct_figures.requests_per_second, 3)
        ratios["tools_call_cpu_ratio"] = round(direct_figures.cpu_us / federated.cpu_us, 3)
        label = "ratio federated tools/call ÷ direct tools/call to the same upstream (throughput)"
        print(ratio_line(label, ratios["tools_call_ratio"], GOAL, ratios["tools_call_cpu_ratio"]))
    extra = {"upstream": "mcp SDK stateless server, echo tool", "gateway": not args.upstream_only}
    return summary("remote_mcp", {**conditions(args, args.concurrency), **extra}, figures, **ratios, goal=GOAL)


def parser() -> argparse.ArgumentParser:
    parser = http_parser(__doc__)
    parser.add_argument("--upstream-only", action="store_true", help="measure the direct half alone")
    parser.add_argument("--upstream-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    add_service_options(parser)
    return parser


if __name__ == "__main__":
    arguments = parser().parse_args()
    if arguments.upstream_server:
        serve_upstream(arguments.upstream_server)
    else:
        try:
            run(arguments)
        except WrongAnswer as wrong:
            print(f"wrong answer: {wrong}", file=sys.stderr)
            sys.exit(1)
