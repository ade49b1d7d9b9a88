"""MCP gateway: `tools/list` and `tools/call` against the same server's baselines, measured from outside.

The real server (`platform-server serve --sandbox`, one uvicorn worker, SQLite, rate limit off, logs at
WARNING) with `SANDBOX_IN_PROCESS=0`: the gateway reaches the sandbox's GitHub over loopback HTTP at
PUBLIC_BASE_URL (this same server), as it reaches a provider in production. GitHub is connected through the
sandbox's OAuth flow and enabled for the workspace with one tool, `github_list_issues`. Targets, each answer
checked (status and exact bytes, after one answer of each was checked in depth):

- `GET /healthz` of the same server: the denominator of the `tools/list` goal (>= 0.50);
- `tools/list` through the gateway: the one enabled tool;
- `tools/list` of a bare `mcp` SDK server (low-level `Server`, same transport options, another process)
  serving exactly the same list: an extra row, the SDK's own cost for the same answer;
- `GET /sandbox/github/repos/acme/product/issues` with a sandbox token, the request the tool makes, through
  the same server: the denominator of the `tools/call` goal (>= 0.50);
- `tools/call github_list_issues` (3 open issues) through the gateway, over loopback;
- the floor of that call (one worker only): the same app in a server of its own with one extra route that
  does nothing but the tool's provider request (the same GET with the app's provider client for GitHub, over
  loopback to that server's sandbox). Gateway request and provider request share one process, so even a
  gateway that cost nothing could not reach the goal: floor ÷ direct GET is the best ratio this server and
  HTTP client allow, and tools/call ÷ floor is what the gateway itself costs;
- the same pair on a second server with `SANDBOX_IN_PROCESS=1` (the sandbox answered in-process, a shortcut
  production never takes), reported beside the loopback figure.

With `--workers 2` (or `--upstream`) the sandbox runs as an upstream server of its own (one worker): the
sandbox's tokens live in one process's memory, so workers cannot share it. The gateway's PUBLIC_BASE_URL is
then the upstream's address (requests to the gateway carry that Host), and the direct GET goes to the upstream.

    .venv/bin/python bench/bench_gateway.py [--requests 2000] [--concurrency 16] [--runs 5]
    .venv/bin/python bench/bench_gateway.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        --redis redis://127.0.0.1:6379/0 --workers 2
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvloop

from common import (
    PYTHON,
    Server,
    Target,
    add_service_options,
    approve,
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
    sandbox_token,
    serve_mcp,
    server_env,
    services,
    summary,
)
from loadgen import Exchange, http_request

TOOL = "github_list_issues"
REPO = "acme/product"
OPEN_ISSUES = 3
# The query `github_list_issues` sends for {"repo": REPO, "perPage": 3}, so the direct GET is the same request.
ISSUES_PATH = (
    f"/sandbox/github/repos/{REPO}/issues?state=open&sort=created&direction=desc&per_page={OPEN_ISSUES}&page=1"
)
GOAL = 0.50


# -- the bare SDK server (extra row) -------------------------------------------------------------------------


def serve_bare(port: int, tools_file: str) -> None:
    """A bare low-level `Server` listing the tools in `tools_file` (the gateway's own answer), served alike."""
    from importlib.metadata import version

    from mcp.server import Server as McpServer
    from mcp_types import ListToolsResult, Tool

    from platform_server.config import Settings
    from platform_server.gateway.server import SERVER_NAME, transport_security

    tools = [Tool.model_validate(tool) for tool in json.loads(Path(tools_file).read_text())]

    async def list_tools(_ctx: Any, _params: Any) -> ListToolsResult:
        return ListToolsResult(tools=tools, cache_scope="private", ttl_ms=0)

    # The gateway's name and version, so that even the server info in `_meta` is the same.
    server: McpServer[Any] = McpServer(
        SERVER_NAME, version=version("platform-server"), title="Platform MCP gateway", on_list_tools=list_tools
    )
    security = transport_security(Settings(_env_file=None, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}"))  # type: ignore[call-arg]
    serve_mcp(server, port, security)


# -- the floor of a tool call (extra row) --------------------------------------------------------------------

FLOOR_PATH = "/bench/provider-get"


def serve_floor(port: int) -> None:
    """`platform-server serve --sandbox`'s app and server options, plus one route that does nothing but the
    tool's provider request: one GET of the issues with the app's provider client for GitHub (`ProviderClient`
    over the pooled GitHub wire of `ProviderHttp`, as the tool makes it, path and parameters built the same way),
    over loopback to this same server's sandbox, its answer (JSON) returned. What a tool call costs with a
    gateway that costs nothing: the best `tools/call` ÷ direct GET this server and HTTP client allow."""
    import orjson
    import uvicorn
    from fastapi import Request, Response

    from platform_server.app import create_app
    from platform_server.integrations.providers.client import StaticTokenSource

    os.environ["PLATFORM_SANDBOX"] = "1"
    app = create_app()
    path, _, query = ISSUES_PATH.removeprefix("/sandbox/github").partition("?")
    params = dict(parse_qsl(query))

    async def provider_get(request: Request) -> Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        client = request.app.state.provider_http.client("github", StaticTokenSource("github", token))
        answer = await client.get(client.path(*path.strip("/").split("/")), params=params)
        return Response(orjson.dumps(answer.data), status_code=answer.status_code, media_type="application/json")

    app.add_api_route(FLOOR_PATH, provider_get)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


async def floor_exchange(floor: Server) -> Exchange:
    """The floor route's answer must be the sandbox's own answer to the same GET, byte for byte."""
    token = await sandbox_token(floor.base_url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    async with client(floor.base_url) as http:
        through_route = await http.get(FLOOR_PATH, headers=headers)
        direct = await http.get(ISSUES_PATH, headers=headers)
    check(through_route.status_code == 200 and direct.status_code == 200, through_route.text)
    check(through_route.content == direct.content, through_route.text[:500])
    return Exchange(http_request("GET", FLOOR_PATH, headers), through_route.content)


# -- setup through the public API ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Gateway:
    """A gateway server set up for the benchmark, and where its provider (the sandbox) answers."""

    server: Server
    sandbox: Server
    # The Host the gateway expects (its PUBLIC_BASE_URL's), which is the upstream's when there is one.
    host: str
    workspace_id: str
    api_key: str


async def connect_github(gateway: Gateway) -> None:
    """Connects GitHub through the sandbox's OAuth flow and enables one tool for the workspace."""
    auth = {"Authorization": f"Bearer {gateway.api_key}", "Host": gateway.host}
    async with client(gateway.server.base_url, auth) as http, client(gateway.sandbox.base_url) as provider:
        # The authorization finishes only in a browser signed in to the settings page as the user who started it.
        sign_in = await http.get("/settings/sign-in")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', sign_in.text)
        check(csrf is not None, sign_in.text)
        assert csrf is not None
        signed_in = await http.post("/settings/sign-in", data={"csrf_token": csrf[1], "api_key": gateway.api_key})
        check(signed_in.status_code == 303, signed_in.text)
        created = await http.post("/api/integrations", json={"provider": "github", "name": "GitHub"})
        check(created.status_code == 201, created.text)
        location = await approve(provider, created.json()["oauthUrl"])
        # The provider redirects the browser to PUBLIC_BASE_URL, which is the upstream's when there is one; the
        # API's callback hands over to the settings page's, which finishes.
        for _ in range(2):
            parts = urlsplit(location)
            location = (await http.get(parts.path, params=dict(parse_qsl(parts.query)))).headers.get("location", "")
        check("success=github" in location, location)
        enabled = await http.post(
            f"/api/workspaces/{gateway.workspace_id}/integrations",
            json={
                "integrationId": created.json()["integration"]["id"],
                "defaultProject": REPO,
                "enabledTools": [TOOL],
            },
        )
        check(enabled.status_code in (200, 201), enabled.text)


async def exchanges(gateway: Gateway) -> dict[str, Exchange]:
    """One answer of each target checked in depth; under load every answer must repeat it byte for byte."""
    await connect_github(gateway)
    token = await sandbox_token(gateway.sandbox.base_url)
    auth = {"Authorization": f"Bearer {gateway.api_key}"}
    mcp_path = f"/api/workspaces/{gateway.workspace_id}/mcp"
    list_body, call_body = (
        rpc("tools/list"),
        rpc("tools/call", {"name": TOOL, "arguments": {"repo": REPO, "perPage": OPEN_ISSUES}}),
    )
    list_headers = rpc_headers("tools/list", auth=auth)
    call_headers = rpc_headers("tools/call", TOOL, auth=auth)
    direct_headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    host = {"Host": gateway.host}
    async with client(gateway.server.base_url) as http, client(gateway.sandbox.base_url) as provider:
        health = await http.get("/healthz")
        listed = await http.post(mcp_path, content=list_body, headers={**list_headers, **host})
        called = [await http.post(mcp_path, content=call_body, headers={**call_headers, **host}) for _ in range(2)]
        direct = await provider.get(ISSUES_PATH, headers=direct_headers)
    check(health.status_code == 200 and health.json() == {"status": "ok"}, health.text)
    check(listed.status_code == 200, listed.text)
    tools = listed.json()["result"]["tools"]
    check([tool["name"] for tool in tools] == [TOOL], listed.text[:500])
    check(direct.status_code == 200, direct.text)
    numbers = [issue["number"] for issue in direct.json() if "pull_request" not in issue]
    check(len(numbers) == OPEN_ISSUES, direct.text[:500])
    for answer in called:
        check(answer.status_code == 200, answer.text)
        result = answer.json()["result"]
        check(not result.get("isError"), answer.text[:500])
        check([issue["number"] for issue in result["structuredContent"]["issues"]] == numbers, answer.text[:500])
    check(called[0].content == called[1].content, "tools/call answers differ between calls")
    sandbox_host = urlsplit(gateway.sandbox.base_url).netloc
    return {
        "healthz": Exchange(http_request("GET", "/healthz"), health.content),
        "list": Exchange(http_request("POST", mcp_path, list_headers, list_body, gateway.host), listed.content),
        "call": Exchange(http_request("POST", mcp_path, call_headers, call_body, gateway.host), called[0].content),
        "direct": Exchange(http_request("GET", ISSUES_PATH, direct_headers, host=sandbox_host), direct.content),
        "tools": Exchange(b"", json.dumps(tools).encode()),
    }


async def bare_exchange(bare: Server, gateway_list: bytes) -> Exchange:
    headers = rpc_headers("tools/list")
    async with client(bare.base_url) as http:
        answer = await http.post("/mcp", content=rpc("tools/list"), headers=headers)
    check(answer.status_code == 200, answer.text)
    # Same bytes as the gateway's answer, server info included.
    check(answer.content == gateway_list, f"the bare server's list differs: {answer.text[:300]}")
    return Exchange(http_request("POST", "/mcp", headers, rpc("tools/list"), f"127.0.0.1:{bare.port}"), answer.content)


# -- the run -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def gateway(
    args: argparse.Namespace, workdir: Path, database_url: str, settings: dict[str, str], in_process: bool
) -> Any:
    """A set-up gateway server (and its upstream sandbox, with `--upstream`)."""
    with contextlib.ExitStack() as stack:
        port = free_port()
        sandbox = None
        public_port = port
        if args.upstream:
            upstream_port = free_port()
            upstream_dir = workdir / f"upstream-{upstream_port}"
            upstream_dir.mkdir()
            upstream_env = server_env(f"sqlite+aiosqlite:///{upstream_dir / 'sandbox.db'}", upstream_port)
            bootstrap(upstream_env, upstream_dir)
            sandbox = stack.enter_context(Server(upstream_env, upstream_dir, upstream_port, sandbox=True))
            public_port = upstream_port
        env = server_env(database_url, public_port, SANDBOX_IN_PROCESS="1" if in_process else "0", **settings)
        ids = bootstrap(env, workdir)
        server = stack.enter_context(Server(env, workdir, port, workers=args.workers, sandbox=True))
        yield Gateway(server, sandbox or server, f"127.0.0.1:{public_port}", ids["workspace_id"], ids["api_key"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    args.upstream = args.upstream or args.workers > 1
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as scratch, contextlib.ExitStack() as stack:
        workdir = Path(scratch)
        database_url, settings = stack.enter_context(services(args, workdir))
        loopback = stack.enter_context(gateway(args, workdir, database_url, settings, in_process=False))
        answers = asyncio.run(exchanges(loopback))
        tools_file = workdir / "tools.json"
        tools_file.write_text(answers["tools"].expected_body.decode())
        bare_port = free_port()
        bare_command = [PYTHON, __file__, "--bare-server", str(bare_port), str(tools_file)]
        bare = stack.enter_context(Server(dict(os.environ), workdir, bare_port, command=bare_command))
        bare_list = asyncio.run(bare_exchange(bare, answers["list"].expected_body))
        where = "upstream" if args.upstream else "same server"
        targets = [
            Target("GET /healthz", loopback.server, [answers["healthz"]]),
            Target("tools/list gateway (1 tool)", loopback.server, [answers["list"]]),
            Target("tools/list bare SDK (same list)", bare, [bare_list]),
            Target(f"GET issues direct ({where})", loopback.sandbox, [answers["direct"]]),
            Target("tools/call gateway (loopback)", loopback.server, [answers["call"]]),
        ]
        if not args.upstream:
            floor_port = free_port()
            floor_env = server_env(database_url, floor_port, SANDBOX_IN_PROCESS="0", **settings)
            floor_command = [PYTHON, __file__, "--floor-server", str(floor_port)]
            floor = stack.enter_context(Server(floor_env, workdir, floor_port, command=floor_command))
            targets.append(
                Target("GET issues via app's provider client (floor)", floor, [asyncio.run(floor_exchange(floor))])
            )
            # Only one process can hold the sandbox's tokens, so the in-process pair needs a single worker.
            shortcut = stack.enter_context(gateway(args, workdir, database_url, settings, in_process=True))
            shortcut_answers = asyncio.run(exchanges(shortcut))
            targets += [
                Target("GET issues direct (in-process srv)", shortcut.server, [shortcut_answers["direct"]]),
                Target("tools/call gateway (in-process)", shortcut.server, [shortcut_answers["call"]]),
            ]
        figures = uvloop.run(measure(targets, args.requests, args.concurrency, args.warmup, args.runs))
    rps = {name: f.requests_per_second for name, f in figures.items()}
    cpu = {name: f.cpu_us for name, f in figures.items()}
    names = [target.name for target in targets]

    def pair(numerator: str, denominator: str) -> tuple[float, float]:
        return round(rps[numerator] / rps[denominator], 3), round(cpu[denominator] / cpu[numerator], 3)

    ratios: dict[str, Any] = {}
    ratios["tools_list_ratio"], ratios["tools_list_cpu_ratio"] = pair(names[1], names[0])
    ratios["tools_list_vs_bare_sdk"], _ = pair(names[1], names[2])
    ratios["tools_call_ratio"], ratios["tools_call_cpu_ratio"] = pair(names[4], names[3])
    print(
        ratio_line(
            "ratio tools/list ÷ healthz (throughput)", ratios["tools_list_ratio"], GOAL, ratios["tools_list_cpu_ratio"]
        )
    )
    print(f"ratio tools/list ÷ bare SDK server, same list (extra): {ratios['tools_list_vs_bare_sdk']:.3f}")
    label = f"ratio tools/call ÷ direct GET, loopback ({where})"
    print(ratio_line(label, ratios["tools_call_ratio"], GOAL, ratios["tools_call_cpu_ratio"]))
    if not args.upstream:
        ratios["floor_ratio"], ratios["floor_cpu_ratio"] = pair(names[5], names[3])
        ratios["tools_call_vs_floor"], ratios["tools_call_vs_floor_cpu"] = pair(names[4], names[5])
        print(
            f"ratio floor (one provider GET from a route of the same app) ÷ direct GET: {ratios['floor_ratio']:.3f} "
            f"(the best tools/call ratio this server allows); by server CPU per request {ratios['floor_cpu_ratio']:.3f}"
        )
        print(
            f"ratio tools/call ÷ floor: {ratios['tools_call_vs_floor']:.3f}; "
            f"by server CPU per request {ratios['tools_call_vs_floor_cpu']:.3f}"
        )
        ratios["tools_call_in_process_ratio"], _ = pair(names[7], names[6])
        print(
            f"ratio tools/call ÷ direct GET, sandbox in-process (not production): "
            f"{ratios['tools_call_in_process_ratio']:.3f}"
        )
    extra = {"sandbox": where}
    return summary("gateway", {**conditions(args, args.concurrency), **extra}, figures, **ratios, goal=GOAL)


def parser() -> argparse.ArgumentParser:
    parser = http_parser(__doc__)
    parser.add_argument("--upstream", action="store_true", help="the sandbox in a server of its own")
    parser.add_argument("--bare-server", nargs=2, metavar=("PORT", "TOOLS"), help=argparse.SUPPRESS)
    parser.add_argument("--floor-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    add_service_options(parser)
    return parser


if __name__ == "__main__":
    arguments = parser().parse_args()
    if arguments.bare_server:
        serve_bare(int(arguments.bare_server[0]), arguments.bare_server[1])
    elif arguments.floor_server:
        serve_floor(arguments.floor_server)
    else:
        run(arguments)
