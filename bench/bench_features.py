"""Authenticated `GET /api/features` (20 items) against a raw ASGI app returning the same bytes, in one run.

A child process serves both apps on one uvloop event loop with uvicorn + httptools (one worker each, one
process): the real Platform app on a SQLite file (or `--database-url`), and a raw ASGI app answering the same
path with the exact bytes the real app returned. This process drives both with a small asyncio HTTP/1.1
client over keep-alive connections: `--concurrency` connections, `--requests` requests per measurement after
`--warmup` unmeasured ones, alternating baseline and features for `--runs` rounds. It prints requests/s,
p50/p99 latency per round, then the medians and the ratio features/baseline throughput (goal >= 0.20).

    .venv/bin/python bench/bench_features.py [--requests 4000] [--concurrency 16] [--runs 3]
    .venv/bin/python bench/bench_features.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvloop

from loadgen import Result, http_request, load

ROOT = Path(__file__).resolve().parent.parent
FEATURE_COUNT = 20
# The limiter stays in the measured path; its limit is only raised so the load is never refused.
SERVER_ENV = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_FREE_PER_MINUTE": "1000000000", "PLATFORM_ENV": "development"}


# -- setup: schema, a team, 20 features ----------------------------------------------------------------------


async def seed(database_url: str) -> dict[str, str]:
    from platform_server import migrate
    from platform_server.config import Settings
    from platform_server.db import create_engine, create_sessionmaker
    from platform_server.features.models import Feature
    from platform_server.teams.service import team_service

    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(Settings(DATABASE_URL=database_url))
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            team, _, workspace, _, api_key = await team_service.bootstrap(
                session, team_name="Bench", email="bench@example.com", workspace_name="Bench"
            )
            for number in range(FEATURE_COUNT):
                session.add(
                    Feature(
                        team_id=team.id,
                        workspace_id=workspace.id,
                        title=f"Feature {number}",
                        description="A feature of the benchmark team",
                        status="planned",
                        priority="medium",
                    )
                )
    finally:
        await engine.dispose()
    return {"workspace_id": workspace.id, "api_key": api_key}


# -- the child: both apps, one process, one loop -------------------------------------------------------------


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def raw_app(path: str, body: bytes, content_type: bytes) -> Any:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    not_found = {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]}
    target = path.split("?", 1)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        same = scope["path"] == target[0] and scope["query_string"].decode() == (target[1] if len(target) > 1 else "")
        await send(start if same else not_found)
        await send({"type": "http.response.body", "body": body if same else b""})

    return app


async def wait_started(servers: list[Any]) -> None:
    # uvicorn exposes only a `started` flag, no event to wait on.
    for _ in range(3000):
        if all(server.started for server in servers):
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("the servers did not start within 30 s")


async def serve(database_url: str, path: str, api_key: str) -> None:
    import httpx
    import uvicorn

    from platform_server.app import create_app
    from platform_server.config import Settings

    platform = create_app(Settings(DATABASE_URL=database_url))
    async with platform.router.lifespan_context(platform):
        # The baseline's bytes are whatever the real app answers for this path.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=platform), base_url="http://bench") as http:
            response = await http.get(path, headers={"Authorization": f"Bearer {api_key}"})
        response.raise_for_status()
        assert len(response.json()["data"]) == FEATURE_COUNT
        baseline = raw_app(path, response.content, response.headers["content-type"].encode())

        servers, sockets = [], []
        for app in (platform, baseline):
            config = uvicorn.Config(app, http="httptools", lifespan="off", log_level="warning", access_log=False)
            servers.append(uvicorn.Server(config))
            sockets.append(listening_socket())
        ports = [sock.getsockname()[1] for sock in sockets]
        pairs = zip(servers, sockets, strict=True)
        tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in pairs]
        await wait_started(servers)
        print(json.dumps({"features": ports[0], "baseline": ports[1], "bytes": len(response.content)}), flush=True)
        # Runs until the parent closes our stdin.
        await asyncio.to_thread(sys.stdin.read)
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)


# -- the load generator --------------------------------------------------------------------------------------


def show(label: str, result: Result) -> None:
    print(f"  {label:<9} {result.requests_per_second:9.0f} req/s   p50 {result.p50_ms:7.2f} ms   "
          f"p99 {result.p99_ms:7.2f} ms", flush=True)


async def drive(args: argparse.Namespace, ports: dict[str, int], path: str, api_key: str) -> None:
    # "healthz" is the real app's unauthenticated /healthz: every middleware and the router, no key, no query.
    # It is not part of the ratio; it shows how much of the gap the framework alone takes.
    targets = {
        "baseline": (ports["baseline"], http_request("GET", path)),
        "healthz": (ports["features"], http_request("GET", "/healthz")),
        "features": (ports["features"], http_request("GET", path, {"Authorization": f"Bearer {api_key}"})),
    }
    for port, request in targets.values():
        await load(port, request, args.warmup, args.concurrency)
    rounds: dict[str, list[Result]] = {name: [] for name in targets}
    for number in range(1, args.runs + 1):
        print(f"run {number}/{args.runs}: {args.requests} requests, concurrency {args.concurrency}", flush=True)
        for name, (port, request) in targets.items():
            result = await load(port, request, args.requests, args.concurrency)
            rounds[name].append(result)
            show(name, result)
    medians = {
        name: Result(
            statistics.median(r.requests_per_second for r in results),
            statistics.median(r.p50_ms for r in results),
            statistics.median(r.p99_ms for r in results),
        )
        for name, results in rounds.items()
    }
    print(f"medians of {args.runs} runs:")
    for name, result in medians.items():
        show(name, result)
    baseline = medians["baseline"].requests_per_second
    ratio = medians["features"].requests_per_second / baseline
    print(f"ratio healthz/baseline throughput: {medians['healthz'].requests_per_second / baseline:.3f} (the framework)")
    print(f"ratio features/baseline throughput: {ratio:.3f} (goal >= 0.20)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000, help="measured requests per app and run")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections in flight")
    parser.add_argument("--warmup", type=int, default=500, help="unmeasured requests per app first")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--serve", nargs=3, metavar=("URL", "PATH", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.update(SERVER_ENV)
    if args.serve:
        uvloop.run(serve(*args.serve))
        return
    with tempfile.TemporaryDirectory(prefix="bench-features-") as scratch:
        os.environ.setdefault("SECRET_KEY_FILE", str(Path(scratch) / "secret"))
        database_url = args.database_url or f"sqlite+aiosqlite:///{scratch}/bench.db"
        seeded = uvloop.run(seed(database_url))
        path = f"/api/features?workspace_id={seeded['workspace_id']}"
        child = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, __file__, "--serve", database_url, path, seeded["api_key"]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=scratch,
        )
        try:
            assert child.stdout is not None
            ready = json.loads(child.stdout.readline())
            print(f"server pid {child.pid}: features on :{ready['features']}, baseline on :{ready['baseline']}, "
                  f"{ready['bytes']} bytes per response, database {database_url.split(':', 1)[0]}", flush=True)
            uvloop.run(drive(args, ready, path, seeded["api_key"]))
        finally:
            assert child.stdin is not None
            child.stdin.close()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
