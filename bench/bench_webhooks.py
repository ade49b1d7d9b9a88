"""Stripe webhooks: a realistic mix of signed events posted to the real server on loopback, effects checked.

The server (`platform-server serve --sandbox`, one uvicorn worker, SQLite or `--postgres`, rate limit off,
logs at WARNING) sends email through Resend's simulation on the same server over loopback HTTP, as it would
reach Resend. Each run posts `--events` events for `--teams` teams of its own, signed with the official
`stripe` library, shuffled, 10 % of them duplicates:

- every handled type: `customer.subscription.created`, `.updated` (status, cancellation, period) and
  `.deleted` (a tenth of the teams end canceled), and `invoice.payment_failed` (past due, an email to the
  owner, sent through Resend);
- events for unknown customers (subscription and invoice events no team matches): stored, not applied;
- types that are only stored and acknowledged (`invoice.paid`, `customer.updated`, `charge.succeeded`).

Every answer must be 200 `{"received":true}`. Afterwards the database is checked: one stored row per distinct
event, processed exactly when it was applied; one subscription per known team; every team in the state of its
newest subscription event; one sent email per distinct payment failure of a known team and none other. Prints
events/s beside `GET /healthz` of the same server, server CPU per event, and a JSON summary as its last line.
Goal: >= 500 events/s on SQLite.

    .venv/bin/python bench/bench_webhooks.py [--events 5000] [--teams 100] [--concurrency 32] [--runs 3]
    .venv/bin/python bench/bench_webhooks.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import stripe
import uvloop
from sqlalchemy import func, select

from common import (
    Figures,
    Server,
    add_service_options,
    bootstrap,
    check,
    client,
    conditions,
    free_port,
    measure_once,
    medians,
    server_env,
    services,
    show,
    summary,
)
from loadgen import Exchange, http_request, load

SECRET = "whsec_bench_secret"  # noqa: S105 - a throwaway secret for a local server
PRO_PRICE = "price_bench_pro"
STATUSES = ("active", "trialing", "past_due")
ONLY_STORED = ("invoice.paid", "customer.updated", "charge.succeeded")
RECEIVED = b'{"received":true}'
GOAL = 500
T0 = 1_767_000_000


@dataclass
class Expected:
    """What the database must hold once every event of every run was delivered."""

    distinct: int = 0
    processed: int = 0
    # team id -> (plan, billing status, cancel at period end, period end) of its newest subscription event
    teams: dict[str, tuple[str, str, bool, datetime]] = field(default_factory=dict)
    emails: int = 0


def subscription(team_id: str | None, key: str, status: str, cancel: bool, period_end: int) -> dict[str, Any]:
    return {
        "id": f"sub_{key}",
        "object": "subscription",
        "customer": f"cus_{key}",
        "status": status,
        "cancel_at_period_end": cancel,
        "metadata": {"team_id": team_id} if team_id else {},
        "items": {"data": [{"price": {"id": PRO_PRICE}, "current_period_end": period_end}]},
    }


def invoice(team_id: str | None, key: str, number: int) -> dict[str, Any]:
    metadata = {"team_id": team_id} if team_id else {}
    return {
        "id": f"in_{key}_{number}",
        "object": "invoice",
        "customer": f"cus_{key}",
        "amount_due": 2900,
        "currency": "usd",
        "attempt_count": 1,
        "next_payment_attempt": T0 + 3 * 86400,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{key}/{number}",
        "parent": {"subscription_details": {"subscription": f"sub_{key}", "metadata": metadata}},
    }


def team_events(team_id: str, key: str, steps: int, rng: random.Random, expected: Expected) -> list[dict[str, Any]]:
    """A subscription's life (created, updates, maybe deleted) with payment failures and stored-only events
    between; strictly increasing `created`, and a payment failure is never the newest, so whatever order the
    events arrive in, the team must end in the state of the last subscription event."""
    events: list[dict[str, Any]] = []
    canceled = rng.random() < 0.1
    last = None
    for step in range(steps):
        created = T0 + step * 10
        kind = rng.random()
        if 0 < step < steps - 1 and kind < 0.15:
            events.append({"type": "invoice.payment_failed", "created": created, "object": invoice(team_id, key, step)})
            expected.emails += 1
            expected.processed += 1
            continue
        if 0 < step < steps - 1 and kind < 0.25:
            obj = {"id": f"obj_{key}_{step}", "object": "customer"}
            events.append({"type": rng.choice(ONLY_STORED), "created": created, "object": obj})
            continue
        status, cancel = rng.choice(STATUSES), rng.random() < 0.3
        event_type = "customer.subscription.updated"
        if step == 0:
            event_type = "customer.subscription.created"
        elif step == steps - 1 and canceled:
            event_type, status = "customer.subscription.deleted", "canceled"
        period_end = T0 + 30 * 86400 + step
        events.append(
            {"type": event_type, "created": created, "object": subscription(team_id, key, status, cancel, period_end)}
        )
        expected.processed += 1
        last = (status, cancel, period_end)
    assert last is not None
    status, cancel, period_end = last
    plan = "pro" if status in ("active", "trialing") else "free"
    expected.teams[team_id] = (plan, status, cancel, datetime.fromtimestamp(period_end, UTC))
    return events


def unknown_customer_events(key: str, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Events no team matches: no metadata, a customer id nobody has."""
    events = []
    for number in range(count):
        if rng.random() < 0.5:
            obj = subscription(None, key, rng.choice(STATUSES), False, T0 + 30 * 86400)
            events.append({"type": "customer.subscription.updated", "created": T0 + number, "object": obj})
        else:
            events.append(
                {"type": "invoice.payment_failed", "created": T0 + number, "object": invoice(None, key, number)}
            )
    return events


def build_run(run: int, team_ids: list[str], total: int, rng: random.Random, expected: Expected) -> list[bytes]:
    unique = total - total // 10
    unknown = unique // 20
    steps = (unique - unknown) // len(team_ids)
    events = []
    for index, team_id in enumerate(team_ids):
        events += team_events(team_id, f"r{run}t{index}", steps, rng, expected)
    events += unknown_customer_events(f"r{run}unknown", unique - len(events), rng)
    bodies = [
        orjson.dumps(
            {
                "id": f"evt_r{run}_{number}",
                "object": "event",
                "api_version": "2025-03-31.basil",
                "created": event["created"],
                "type": event["type"],
                "data": {"object": event["object"]},
            }
        )
        for number, event in enumerate(events)
    ]
    expected.distinct += len(bodies)
    bodies += [rng.choice(bodies) for _ in range(total - len(bodies))]
    rng.shuffle(bodies)
    return bodies


def signed(body: bytes) -> Exchange:
    signature = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    return Exchange(http_request("POST", "/api/webhooks/stripe", headers, body), RECEIVED)


# -- setup and checks in this process ------------------------------------------------------------------------


async def create_teams(database_url: str, count: int, run: int) -> list[str]:
    from platform_server.config import Settings
    from platform_server.db import create_engine, create_sessionmaker
    from platform_server.teams.service import team_service

    engine = create_engine(Settings(_env_file=None, DATABASE_URL=database_url))  # type: ignore[call-arg]
    team_ids = []
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for index in range(count):
                team, *_ = await team_service.bootstrap(
                    session,
                    team_name=f"Bench {run}-{index}",
                    email=f"owner{run}-{index}@bench.example",
                    workspace_name="Main",
                )
                team_ids.append(team.id)
    finally:
        await engine.dispose()
    return team_ids


async def wait_for_emails(database_url: str, timeout_seconds: float = 120.0) -> None:
    """Emails leave through the job layer after the webhook's answer; the end state is read once none waits."""
    from platform_server.config import Settings
    from platform_server.db import create_engine, create_sessionmaker
    from platform_server.email.models import Email

    engine = create_engine(Settings(_env_file=None, DATABASE_URL=database_url))  # type: ignore[call-arg]
    deadline = time.monotonic() + timeout_seconds
    try:
        while time.monotonic() < deadline:
            async with create_sessionmaker(engine)() as session:
                queued = await session.scalar(select(func.count()).select_from(Email).where(Email.status == "queued"))
            if not queued:
                return
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def verify(database_url: str, expected: Expected) -> list[str]:
    from platform_server.billing.models import StripeSubscription
    from platform_server.config import Settings
    from platform_server.db import create_engine, create_sessionmaker
    from platform_server.email.models import Email
    from platform_server.models import Team, WebhookEvent

    engine = create_engine(Settings(_env_file=None, DATABASE_URL=database_url))  # type: ignore[call-arg]
    problems: list[str] = []
    try:
        async with create_sessionmaker(engine)() as session:
            stored = await session.scalar(select(func.count()).select_from(WebhookEvent))
            processed = await session.scalar(
                select(func.count()).select_from(WebhookEvent).where(WebhookEvent.processed_at.is_not(None))
            )
            if (stored, processed) != (expected.distinct, expected.processed):
                problems.append(
                    f"events stored/processed {stored}/{processed}, expected {expected.distinct}/{expected.processed}"
                )
            subscriptions = await session.scalar(select(func.count()).select_from(StripeSubscription))
            if subscriptions != len(expected.teams):
                problems.append(f"subscriptions {subscriptions}, expected {len(expected.teams)}")
            emails = (await session.execute(select(Email.kind, Email.status, Email.resend_id))).all()
            sent = [e for e in emails if e.kind == "payment_failed" and e.status == "sent" and e.resend_id]
            if len(emails) != expected.emails or len(sent) != expected.emails:
                problems.append(f"emails {len(emails)} ({len(sent)} sent), expected {expected.emails} sent")
            for team in await session.scalars(select(Team).where(Team.id.in_(list(expected.teams)))):
                actual = (team.plan, team.billing_status, team.cancel_at_period_end, team.plan_period_end)
                if actual != expected.teams[team.id]:
                    problems.append(f"team {team.id}: {actual} != {expected.teams[team.id]}")
    finally:
        await engine.dispose()
    return problems


# -- the run -------------------------------------------------------------------------------------------------


async def drive(server: Server, runs: list[list[bytes]], concurrency: int) -> dict[str, Figures]:
    healthz = Exchange(http_request("GET", "/healthz"), b'{"status":"ok"}')
    async with client(server.base_url) as http:
        check((await http.get("/healthz")).content == healthz.expected_body, "healthz answers differently")
    await load(server.port, healthz, 500, concurrency)
    rounds: dict[str, list[Figures]] = {"GET /healthz": [], "stripe webhooks": []}
    for number, bodies in enumerate(runs, 1):
        print(f"run {number}/{len(runs)}: {len(bodies)} events, concurrency {concurrency}", flush=True)
        # Signed now: Stripe's signatures are good for five minutes.
        for name, batch in (("GET /healthz", [healthz] * 2000), ("stripe webhooks", [signed(b) for b in bodies])):
            rounds[name].append(await measure_once(server, batch, len(batch), concurrency))
            show(name, rounds[name][-1])
    return medians(rounds)


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(7)
    expected = Expected()
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as scratch:
        workdir = Path(scratch)
        with services(args, workdir) as (database_url, settings):
            port = free_port()
            env = server_env(
                database_url,
                port,
                STRIPE_WEBHOOK_SECRET=SECRET,
                STRIPE_PRO_PRICE_IDS=PRO_PRICE,
                RESEND_API_KEY="re_bench_key",
                RESEND_API_BASE_URL=f"http://127.0.0.1:{port}/sandbox/resend",
                # On PostgreSQL the server runs the email jobs itself (SQLite always does).
                JOBS_WORKER_IN_SERVE="true",
                **settings,
            )
            bootstrap(env, workdir)
            runs = []
            for number in range(args.runs):
                team_ids = uvloop.run(create_teams(database_url, args.teams, number))
                runs.append(build_run(number, team_ids, args.events, rng, expected))
            # The bootstrap team has no events; it is not among the expected teams.
            with Server(env, workdir, port, workers=args.workers, sandbox=True) as server:
                figures = uvloop.run(drive(server, runs, args.concurrency))
                uvloop.run(wait_for_emails(database_url))
            problems = uvloop.run(verify(database_url, expected))
    rate = figures["stripe webhooks"].requests_per_second
    ratio = rate / figures["GET /healthz"].requests_per_second
    print(f"events/s: {rate:.0f} (goal >= {GOAL}: {'met' if rate >= GOAL else 'NOT MET'}); {ratio:.3f} of healthz")
    print(
        f"end state: {'every effect applied exactly once' if not problems else 'WRONG'}; "
        f"{expected.distinct} distinct events, {expected.emails} payment-failed emails expected"
    )
    for problem in problems[:10]:
        print(f"  {problem}")
    line = summary(
        "webhooks",
        {**conditions(args, args.concurrency), "events": args.events, "teams": args.teams},
        figures,
        events_per_second=round(rate, 1),
        ratio_to_healthz=round(ratio, 3),
        goal_events_per_second=GOAL,
        end_state_correct=not problems,
    )
    if problems:
        raise SystemExit(1)
    return line


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000, help="events per run, duplicates included")
    parser.add_argument("--teams", type=int, default=100, help="teams per run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    add_service_options(parser)
    return parser


if __name__ == "__main__":
    arguments = parser().parse_args()
    arguments.requests = arguments.events
    run(arguments)
