"""`serve --workers 1` against `--workers 2` on PostgreSQL + Redis: the features list and MCP tools/call.

Runs `bench_features.py` and `bench_gateway.py` (sandbox as an upstream server of its own, for both worker
counts, so they compare alike) with 1 and then 2 workers, each on a fresh PostgreSQL database and a Redis key
prefix of its own (the rate limiter on Redis, limits raised), and prints throughput side by side with the
scaling factor, then a JSON summary as its last line. On a 2-core machine the load generator and (for tools/call)
the upstream sandbox share the cores with the workers, so the factor is bounded well below 2.

    .venv/bin/python bench/bench_workers.py [--postgres URL] [--redis URL] [--requests 2000] [--runs 3]
"""

import argparse
import json
from typing import Any

import bench_features
import bench_gateway

FEATURES = "GET /api/features (20 items)"
TOOLS_CALL = "tools/call gateway (loopback)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    common = ["--postgres", args.postgres, "--redis", args.redis, "--concurrency", str(args.concurrency)]
    common += ["--requests", str(args.requests), "--runs", str(args.runs)]
    results: dict[str, dict[int, Any]] = {"features": {}, "gateway": {}}
    for workers in (1, 2):
        print(f"== {workers} worker(s): features ==", flush=True)
        results["features"][workers] = bench_features.run(
            bench_features.parser().parse_args([*common, "--workers", str(workers)])
        )
        print(f"== {workers} worker(s): gateway ==", flush=True)
        results["gateway"][workers] = bench_gateway.run(
            bench_gateway.parser().parse_args([*common, "--workers", str(workers), "--upstream"])
        )
    rows = {
        "features": [results["features"][w]["figures"][FEATURES]["requests_per_second"] for w in (1, 2)],
        "tools_call": [results["gateway"][w]["figures"][TOOLS_CALL]["requests_per_second"] for w in (1, 2)],
        "healthz": [results["features"][w]["figures"]["GET /healthz"]["requests_per_second"] for w in (1, 2)],
    }
    print("PostgreSQL + Redis, requests/s (medians):")
    print(f"  {'path':<34} {'1 worker':>9} {'2 workers':>10} {'scaling':>8}")
    for name, (one, two) in rows.items():
        print(f"  {name:<34} {one:9.0f} {two:10.0f} {two / one:8.2f}")
    print(json.dumps({"benchmark": "workers", **{name: {"1": one, "2": two} for name, (one, two) in rows.items()}}))


if __name__ == "__main__":
    main()
