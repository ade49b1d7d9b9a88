"""Latency the per-minute limiter adds to a request: in-process store and Redis, against limits off, one run.

Three copies of the real app share one SQLite file (or `--database-url`) and one uvloop event loop: limits off,
limits on the in-process store, limits on Redis (`--redis-url`, a key prefix of this run's own, removed at the
end). Each is driven through its full ASGI stack (middleware, authentication from the warm API-key cache,
the limiter, the handler) with one request at a time, rotating over `--users` users of a Pro team (500/min),
so nothing is refused. Two endpoints: `/api/me` (one database query, like most routes) and a bare
authenticated ping (no handler work, so nothing hides the limiter's cost). Rounds alternate the three apps so
machine drift hits all alike; the report gives per-app p50 and p90 and the added p50 against limits off,
with a raw Redis GET round trip measured in the same run for scale.

Goals: in-process <= 50 µs added, Redis <= 0.5 ms (one round trip) added, p50.

    .venv/bin/python bench/bench_limits.py [--requests 400] [--rounds 8] [--users 40]
"""

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from redis.asyncio import Redis

from platform_server import migrate
from platform_server.app import create_app
from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.auth.service import api_key_service
from platform_server.config import Settings
from platform_server.db import create_engine, create_sessionmaker
from platform_server.models import User
from platform_server.schemas import Message
from platform_server.teams.models import Plan, Role
from platform_server.teams.service import team_service

ENDPOINTS = ("/api/me", "/api/bench-ping")
Samples = dict[tuple[str, str], list[list[float]]]


async def seed(database_url: str, users: int) -> list[str]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(Settings(DATABASE_URL=database_url, _env_file=None))  # type: ignore[call-arg]
    keys: list[str] = []
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            team, _, _, _, owner_key = await team_service.bootstrap(
                session, team_name="Bench", email="bench@example.com", workspace_name="Bench"
            )
            team.plan = Plan.pro
            keys.append(owner_key)
            for number in range(users - 1):
                user = User(team_id=team.id, email=f"user{number}@example.com", name="Bench", role=Role.member)
                session.add(user)
                await session.flush()
                _, secret = await api_key_service.create_for_user(
                    session, team_id=team.id, user_id=user.id, name="bench"
                )
                keys.append(secret)
    finally:
        await engine.dispose()
    return keys


def build_app(database_url: str, **overrides: Any) -> Any:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, DATABASE_URL=database_url, LOG_LEVEL="WARNING", PLATFORM_ENV="development", **overrides
    )
    app = create_app(settings)

    async def bench_ping(principal: CurrentPrincipal) -> Message:
        return Message(message=principal.user_id)

    app.router.add_api_route("/api/bench-ping", bench_ping, methods=["GET"])
    return app


def requester(app: Any) -> Callable[[str, str], Awaitable[int]]:
    """One request through the app's whole ASGI stack, no HTTP client or socket in between."""

    async def request(path: str, api_key: str) -> int:
        status = 0
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {api_key}".encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    return request


async def measure(call: Callable[[str, str], Awaitable[int]], path: str, keys: list[str], count: int) -> list[float]:
    samples = []
    for number in range(count):
        started = time.perf_counter()
        status = await call(path, keys[number % len(keys)])
        samples.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"{path} answered {status}; the benchmark needs every request served")
    return samples


async def redis_round_trip(redis_url: str, count: int) -> list[float]:
    client = Redis.from_url(redis_url)
    samples = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            await client.get("bench-limits-round-trip")
            samples.append(time.perf_counter() - started)
    finally:
        await client.aclose()
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        keys = await seed(database_url, args.users)
        prefix = f"bench-limits-{uuid.uuid4().hex[:8]}"
        apps = {
            "off": build_app(database_url, RATE_LIMIT_ENABLED=False),
            "in-process": build_app(database_url),
            "redis": build_app(database_url, REDIS_URL=args.redis_url, REDIS_KEY_PREFIX=prefix),
        }
        samples: Samples = {(name, path): [] for name in apps for path in ENDPOINTS}
        round_trips: list[float] = []
        try:
            async with contextlib.AsyncExitStack() as stack:
                for app in apps.values():
                    await stack.enter_async_context(app.router.lifespan_context(app))
                await run_rounds(args, apps, keys, samples, round_trips)
        finally:
            cleanup = Redis.from_url(args.redis_url)
            leftovers = [key async for key in cleanup.scan_iter(match=f"{prefix}:*")]
            if leftovers:
                await cleanup.delete(*leftovers)
            await cleanup.aclose()
    report(args, samples, round_trips)


async def run_rounds(
    args: argparse.Namespace,
    apps: dict[str, Any],
    keys: list[str],
    samples: Samples,
    round_trips: list[float],
) -> None:
    calls = {name: requester(app) for name, app in apps.items()}
    for call in calls.values():
        for path in ENDPOINTS:
            await measure(call, path, keys, 2 * len(keys))  # warm caches and connections
    for _ in range(args.rounds):
        for path in ENDPOINTS:
            for name, call in calls.items():
                samples[(name, path)].append(await measure(call, path, keys, args.requests))
        round_trips += await redis_round_trip(args.redis_url, args.requests // 4)


def report(args: argparse.Namespace, samples: Samples, round_trips: list[float]) -> None:
    """Added latency is taken round by round (p50 with limits minus p50 without), then the median of rounds."""
    round_trip = percentile(round_trips, 0.5)
    print(f"{args.rounds} rounds x {args.requests} sequential requests per app and endpoint, {args.users} users")
    print(f"raw Redis GET round trip: p50 {round_trip * 1e6:.0f} µs")
    print(f"{'endpoint':<16} {'limits':<11} {'p50 µs':>8} {'p90 µs':>8} {'added p50 µs':>13}")
    for path in ENDPOINTS:
        baseline = [percentile(batch, 0.5) for batch in samples[("off", path)]]
        for name in ("off", "in-process", "redis"):
            batches = samples[(name, path)]
            every = [sample for batch in batches for sample in batch]
            added = ""
            if name != "off":
                differences = [percentile(batch, 0.5) - base for batch, base in zip(batches, baseline, strict=True)]
                added = f"{statistics.median(differences) * 1e6:+.0f}"
            p50, p90 = percentile(every, 0.5) * 1e6, percentile(every, 0.9) * 1e6
            print(f"{path:<16} {name:<11} {p50:8.0f} {p90:8.0f} {added:>13}")
    print(f"goals (p50 added): in-process <= 50 µs; Redis <= 500 µs, one round trip ({round_trip * 1e6:.0f} µs here)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="requests per app, endpoint and round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--users", type=int, default=40, help="users of the Pro team the requests rotate over")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary directory")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    arguments = parser.parse_args()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(arguments))
