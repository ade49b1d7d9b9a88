"""`serve --workers 1` against `--workers 2` on PostgreSQL + Redis: the features list and MCP tools/call.

Runs `bench_features.py` and `bench_gateway.py` (sandbox as an upstream server of its own, for both worker
counts, so they compare alike) with 1 and then 2 workers, each on a fresh PostgreSQL database and a Redis key
prefix of its own (the rate limiter on Redis, limits raised), and prints throughput side by side with the
scaling factor, then a JSON summary as its last line. On a 2-core machine the load generator and (for tools/call)
the upstream sandbox share the cores with the workers, so the factor is bounded well below 2: the table shows the
cores the whole machine kept busy (near 2, more workers cannot add throughput) and the server CPU per request
(steady from 1 to 2 workers when the workers do not get in each other's way).

    .venv/bin/python bench/bench_workers.py [--postgres URL] [--redis URL] [--requests 2000] [--runs 3]
"""

import argparse
import json
import os
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
    figures = {
        "features": [results["features"][w]["figures"][FEATURES] for w in (1, 2)],
        "tools_call": [results["gateway"][w]["figures"][TOOLS_CALL] for w in (1, 2)],
        "healthz": [results["features"][w]["figures"]["GET /healthz"] for w in (1, 2)],
    }
    print("PostgreSQL + Redis, requests/s (medians), and the cores the whole machine kept busy meanwhile:")
    heading = f"{'1 worker':>9} {'2 workers':>10} {'scaling':>8} {'busy cores, 1 → 2':>20}"
    print(f"  {'path':<12} {heading} {'server CPU µs/req, 1 → 2':>26}")
    for name, (one, two) in figures.items():
        rates = one["requests_per_second"], two["requests_per_second"]
        busy = f"{one['busy_cores']:.2f} → {two['busy_cores']:.2f} of {os.cpu_count()}"
        cpu = f"{one['cpu_us']:.0f} → {two['cpu_us']:.0f}"
        print(f"  {name:<12} {rates[0]:9.0f} {rates[1]:10.0f} {rates[1] / rates[0]:8.2f} {busy:>20} {cpu:>26}")
    kept = ("requests_per_second", "busy_cores", "cpu_us")
    summary = {
        name: {str(w): {k: f[k] for k in kept} for w, f in zip((1, 2), pair, strict=True)}
        for name, pair in figures.items()
    }
    print(json.dumps({"benchmark": "workers", **summary}))


if __name__ == "__main__":
    main()
