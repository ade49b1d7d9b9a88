"""Stripe webhook throughput: 5,000 signed events (10% duplicates, shuffled) posted to a real server on loopback.

Prints events/s and latency percentiles next to a baseline measured in the same run (GET /healthz on the same
server, same client, same concurrency), then verifies that every effect was applied exactly once: one stored row
per distinct event and each team in the state of its newest event. Goal: ≥ 500 events/s on SQLite.

    .venv/bin/python bench/bench_webhooks.py [--events 5000] [--teams 100] [--concurrency 32] [--database-url URL]
"""

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import stripe
import uvloop
from sqlalchemy import func, select

from loadgen import http_request, load
from platform_server import migrate
from platform_server.billing.models import StripeSubscription
from platform_server.config import Settings
from platform_server.db import create_engine, create_sessionmaker
from platform_server.models import Team, WebhookEvent
from platform_server.teams.service import team_service

SECRET = "whsec_bench_secret"  # noqa: S105 - a throwaway secret for a local server
PRO_PRICE = "price_bench_pro"
STATUSES = ("active", "trialing", "past_due")
T0 = 1_767_000_000


def build_events(team_ids: list[str], total: int, rng: random.Random) -> tuple[list[bytes], dict[str, dict[str, Any]]]:
    unique = total - total // 10
    per_team = unique // len(team_ids)
    events: list[dict[str, Any]] = []
    newest: dict[str, dict[str, Any]] = {}
    for team_index, team_id in enumerate(team_ids):
        for step in range(per_team):
            state = {
                "status": rng.choice(STATUSES),
                "cancel_at_period_end": rng.random() < 0.3,
                "period_end": T0 + 30 * 86400 + step,
            }
            event = {
                "id": f"evt_{team_index}_{step}",
                "object": "event",
                "created": T0 + step,
                "type": "customer.subscription.created" if step == 0 else "customer.subscription.updated",
                "data": {
                    "object": {
                        "id": f"sub_{team_index}",
                        "object": "subscription",
                        "customer": f"cus_{team_index}",
                        "status": state["status"],
                        "cancel_at_period_end": state["cancel_at_period_end"],
                        "metadata": {"team_id": team_id},
                        "items": {
                            "data": [{"price": {"id": PRO_PRICE}, "current_period_end": state["period_end"]}]
                        },
                    }
                },
            }
            events.append(event)
            newest[team_id] = state
    bodies = [orjson.dumps(event) for event in events]
    bodies += [rng.choice(bodies) for _ in range(total - len(bodies))]
    rng.shuffle(bodies)
    return bodies, newest


async def verify(settings: Settings, newest: dict[str, dict[str, Any]], distinct: int) -> list[str]:
    engine = create_engine(settings)
    problems: list[str] = []
    async with create_sessionmaker(engine)() as session:
        stored = await session.scalar(select(func.count()).select_from(WebhookEvent))
        unprocessed = await session.scalar(
            select(func.count()).select_from(WebhookEvent).where(WebhookEvent.processed_at.is_(None))
        )
        subscriptions = await session.scalar(select(func.count()).select_from(StripeSubscription))
        if stored != distinct or unprocessed:
            problems.append(f"stored events {stored} (expected {distinct}), unprocessed {unprocessed}")
        if subscriptions != len(newest):
            problems.append(f"subscriptions {subscriptions} (expected {len(newest)})")
        for team in await session.scalars(select(Team).where(Team.id.in_(list(newest)))):
            state = newest[team.id]
            expected = (
                "pro" if state["status"] in ("active", "trialing") else "free",
                state["status"],
                state["cancel_at_period_end"],
                datetime.fromtimestamp(state["period_end"], UTC),
            )
            actual = (team.plan, team.billing_status, team.cancel_at_period_end, team.plan_period_end)
            if actual != expected:
                problems.append(f"team {team.id}: {actual} != {expected}")
    await engine.dispose()
    return problems


async def run(args: argparse.Namespace, workdir: Path) -> int:
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key-0123456789-0123456789",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_PRO_PRICE_IDS": PRO_PRICE,
        "RATE_LIMIT_PUBLIC_PER_MINUTE": "10000000",
        "LOG_LEVEL": "WARNING",
    }
    settings = Settings(_env_file=None, **{k: v for k, v in env.items() if k in Settings.model_fields})  # type: ignore[call-arg]
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(settings)
    team_ids = []
    async with create_sessionmaker(engine)() as session, session.begin():
        for index in range(args.teams):
            team, *_ = await team_service.bootstrap(
                session, team_name=f"Bench {index}", email=f"owner{index}@bench.example", workspace_name="Main"
            )
            team_ids.append(team.id)
    await engine.dispose()

    bodies, newest = build_events(team_ids, args.events, random.Random(7))
    requests = [
        http_request(
            "POST",
            "/api/webhooks/stripe",
            {
                "Content-Type": "application/json",
                "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET),
            },
            body,
        )
        for body in bodies
    ]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603, ASYNC220 - our own interpreter; started once, before timing
        [sys.executable, "-m", "uvicorn", "platform_server.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
        env=env,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not start")
        baseline = await load(port, http_request("GET", "/healthz"), 2000, args.concurrency)
        webhooks = await load(port, requests, len(requests), args.concurrency)
    finally:
        server.terminate()
        server.wait(timeout=10)

    problems = await verify(settings, newest, len({orjson.loads(body)["id"] for body in bodies}))
    rate = webhooks.requests_per_second
    print(f"database        {database_url.split(':', 1)[0]}  concurrency {args.concurrency}")
    print(f"baseline        GET /healthz {baseline.requests_per_second:8.0f} req/s  p50 {baseline.p50_ms:6.2f} ms")
    print(
        f"stripe webhooks {len(bodies)} events {rate:8.0f} events/s  "
        f"p50 {webhooks.p50_ms:6.2f} ms  p99 {webhooks.p99_ms:6.2f} ms"
    )
    verdict = "met" if rate >= 500 else "MISSED"
    print(f"ratio           {rate / baseline.requests_per_second:.2f} of the baseline; goal ≥ 500 events/s: {verdict}")
    print(f"end state       {'every effect applied exactly once' if not problems else 'WRONG'}")
    for problem in problems[:10]:
        print(f"  {problem}")
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        raise SystemExit(uvloop.run(run(args, Path(workdir))))


if __name__ == "__main__":
    main()
