"""Pushed sync latency: from a change at the provider to the item visible through the API.

A real server (`platform-server serve --sandbox`, one uvicorn worker; SQLite runs jobs in-process, PostgreSQL
with `--postgres URL` gets `JOBS_WORKER_IN_SERVE`) with a GitHub integration connected through the sandbox's
OAuth flow and enabled with `defaultProject` `acme/product`, which registers the repository webhook. After a
first import, each of `--events` rounds changes one issue's title with `POST /sandbox/_control/changes`; the
sandbox delivers the signed `issues` webhook, which queues an incremental import, and the clock stops when
`GET /api/work-items` shows the new title (polled every 20 ms). Prints the median and p95 and a JSON line.

    .venv/bin/python bench/bench_push.py [--events 30] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from common import Server, approve, bootstrap, check, client, free_port, fresh_postgres, server_env

POLL_SECONDS = 0.02
VISIBLE_TIMEOUT_SECONDS = 120.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def connect_github(base: str, api_key: str, workspace_id: str) -> str:
    """Signs in to the settings page (the browser that finishes the authorization), connects GitHub through
    the sandbox's consent page and enables it for the workspace with acme/product."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with client(base) as browser:
        form = await browser.get("/settings/sign-in")
        token = _CSRF.search(form.text)
        check(token is not None, "no CSRF token on the sign-in page")
        assert token is not None
        signed_in = await browser.post("/settings/sign-in", data={"csrf_token": token.group(1), "api_key": api_key})
        check(signed_in.status_code == 303, signed_in.text)
        created = await browser.post("/api/integrations", json={"provider": "github"}, headers=headers)
        check(created.status_code == 201, created.text)
        location = await approve(browser, created.json()["oauthUrl"])
        for _ in range(2):
            location = (await browser.get(urlsplit(location)._replace(scheme="", netloc="").geturl())).headers[
                "location"
            ]
        integration_id: str = created.json()["integration"]["id"]
        enabled = await browser.post(
            f"/api/workspaces/{workspace_id}/integrations",
            json={"integrationId": integration_id, "defaultProject": "acme/product"},
            headers=headers,
        )
        check(enabled.status_code == 201, enabled.text)
    return integration_id


async def titles(http: httpx.AsyncClient, workspace_id: str) -> set[str]:
    found: set[str] = set()
    page = 1
    while True:
        response = await http.get("/api/work-items", params={"workspace_id": workspace_id, "page": page, "limit": 100})
        check(response.status_code == 200, response.text)
        data = response.json()
        found.update(item["title"] for item in data["data"])
        if page >= data["pagination"]["total_pages"]:
            return found
        page += 1


async def wait_for(http: httpx.AsyncClient, workspace_id: str, title: str) -> None:
    async with asyncio.timeout(VISIBLE_TIMEOUT_SECONDS):
        while True:
            if title in await titles(http, workspace_id):
                return
            await asyncio.sleep(POLL_SECONDS)


async def measure(base: str, ids: dict[str, str], events: int) -> list[float]:
    integration_id = await connect_github(base, ids["api_key"], ids["workspace_id"])
    headers = {"Authorization": f"Bearer {ids['api_key']}"}
    async with client(base, headers) as http:
        first = await http.post(
            f"/api/integrations/{integration_id}/sync",
            json={
                "syncType": "import",
                "workspaceId": ids["workspace_id"],
                "sourceEntity": "issues",
                "targetEntity": "work_items",
            },
        )
        check(first.status_code in (200, 202), first.text)
        # Every fifth number of the sandbox's repository is a pull request, which the issues import leaves out.
        issues = [number for number in range(1, 100) if number % 5]
        latencies = []
        for number in range(events):
            title = f"Pushed {number} {uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            changed = await http.post(
                "/sandbox/_control/changes",
                json={
                    "provider": "github",
                    "item": f"acme/product#{issues[number % len(issues)]}",
                    "changes": {"title": title},
                },
            )
            check(changed.status_code == 200, changed.text)
            try:
                await wait_for(http, ids["workspace_id"], title)
            except TimeoutError:
                raise RuntimeError(
                    f"event {number} (issue #{issues[number % len(issues)]}) never became visible"
                ) from None
            latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--postgres", metavar="URL", help="run on a fresh PostgreSQL database of this server")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.postgres:
            with fresh_postgres(args.postgres) as database_url:
                latencies = run(database_url, port, tmp, args.events, {"JOBS_WORKER_IN_SERVE": "true"})
        else:
            latencies = run(f"sqlite+aiosqlite:///{tmp / 'bench.db'}", port, tmp, args.events, {})
    ordered = sorted(latencies)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"pushed webhook → item visible, {len(ordered)} events: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )
    line: dict[str, Any] = {
        "benchmark": "push",
        "database": "postgresql" if args.postgres else "sqlite",
        "events": len(ordered),
        "push_to_visible_ms": {"median": round(median * 1000, 1), "p95": round(p95 * 1000, 1)},
    }
    print(json.dumps(line), flush=True)


def run(database_url: str, port: int, tmp: Path, events: int, settings: dict[str, str]) -> list[float]:
    env = server_env(database_url, port, **settings)
    ids = bootstrap(env, tmp)
    with Server(env, tmp, port, sandbox=True) as server:
        return asyncio.run(measure(server.base_url, ids, events))


if __name__ == "__main__":
    main()
