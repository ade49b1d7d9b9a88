"""`GET /api/features` (20 items) against the same server's `/healthz`, measured from outside, in one run.

The real server (`platform-server serve`, one uvicorn worker unless `--workers`, rate limit off, logs at
WARNING) runs in a child process on a fresh SQLite file (or a fresh PostgreSQL database, `--postgres`). Its team,
workspace and API key come from `platform-server bootstrap`; the 20 features are created through
`POST /api/features`. The first listing is checked in depth (the 20 features just created, newest first, the
pagination envelope); under load every answer must be 200 with exactly those bytes. This process drives the
server with `--concurrency` keep-alive connections (`loadgen.py`), `--requests` per target and round, the
two targets alternating for `--runs` rounds; it prints medians of requests/s, p50/p99 and server CPU per
request, the ratio features ÷ healthz beside its goal (>= 0.30), and a JSON summary as its last line.

    .venv/bin/python bench/bench_features.py [--requests 4000] [--concurrency 16] [--runs 5]
    .venv/bin/python bench/bench_features.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        --redis redis://127.0.0.1:6379/0 --workers 2
"""

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import uvloop

from common import (
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
    server_env,
    services,
    summary,
)
from loadgen import Exchange, http_request

FEATURE_COUNT = 20
GOAL = 0.30


async def prepare(server: Server, ids: dict[str, str]) -> dict[str, Exchange]:
    """Creates the features through the API and checks one answer of each target in depth."""
    auth = {"Authorization": f"Bearer {ids['api_key']}"}
    path = f"/api/features?workspace_id={ids['workspace_id']}&limit={FEATURE_COUNT}"
    async with client(server.base_url, auth) as http:
        created = []
        for number in range(FEATURE_COUNT):
            response = await http.post(
                "/api/features",
                json={
                    "workspaceId": ids["workspace_id"],
                    "title": f"Feature {number}",
                    "description": "A feature of the benchmark team",
                    "status": "planned",
                    "priority": "medium",
                },
            )
            check(response.status_code == 201, response.text)
            created.append(response.json())
        listed = await http.get(path)
        health = await http.get("/healthz")
    check(listed.status_code == 200, listed.text)
    newest_first = sorted(created, key=lambda feature: int(feature["id"]), reverse=True)
    expected_page = {"page": 1, "limit": FEATURE_COUNT, "total": FEATURE_COUNT, "total_pages": 1}
    check(listed.json() == {"data": newest_first, "pagination": expected_page}, listed.text[:500])
    check(health.status_code == 200 and health.json() == {"status": "ok"}, health.text)
    return {
        "healthz": Exchange(http_request("GET", "/healthz"), health.content),
        "features": Exchange(http_request("GET", path, auth), listed.content),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-features-") as scratch:
        workdir = Path(scratch)
        with services(args, workdir) as (database_url, settings):
            port = free_port()
            env = server_env(database_url, port, **settings)
            ids = bootstrap(env, workdir)
            with Server(env, workdir, port, workers=args.workers) as server:
                exchanges = asyncio.run(prepare(server, ids))
                features = exchanges["features"].expected_body
                print(f"server pid tree on :{port}, {len(features)} bytes per features answer", flush=True)
                targets = [
                    Target("GET /healthz", server, [exchanges["healthz"]]),
                    Target(f"GET /api/features ({FEATURE_COUNT} items)", server, [exchanges["features"]]),
                ]
                figures = uvloop.run(measure(targets, args.requests, args.concurrency, args.warmup, args.runs))
    healthz, listing = (figures[target.name] for target in targets)
    ratio = listing.requests_per_second / healthz.requests_per_second
    cpu_ratio = healthz.cpu_us / listing.cpu_us
    print(ratio_line("ratio features ÷ healthz (throughput)", ratio, GOAL, cpu_ratio))
    print(f"server CPU per request: features {listing.cpu_us:.0f} µs, healthz {healthz.cpu_us:.0f} µs")
    return summary(
        "features",
        conditions(args, args.concurrency),
        figures,
        ratio=round(ratio, 3),
        cpu_ratio=round(cpu_ratio, 3),
        goal=GOAL,
    )


def parser() -> argparse.ArgumentParser:
    parser = http_parser(__doc__, requests=4000, warmup=500)
    add_service_options(parser)
    return parser


if __name__ == "__main__":
    run(parser().parse_args())
