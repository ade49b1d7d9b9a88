"""Sync benchmark: import 10,000 GitHub issues (100 per page) from the sandbox on loopback.

- the sandbox: a real server (`platform-server serve --sandbox`, one uvicorn worker) in another process, its
  acme/product repository set to `--volume` issues (pull requests mixed in, as at GitHub);
- baseline: the importer's own page requests through the same provider client, parsed and mapped, nothing
  written — what any sync must pay;
- sync: the import engine (`ImportEngine.run`) into a fresh workspace each time, on SQLite and, when
  BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set, on PostgreSQL: page-by-page commits, bulk upserts, cursor.

Prints items/s, the ratio of sync wall time to download time (same run, alternating), and the peak Python
memory of one sync (tracemalloc) beside the size of all the rows it wrote. Goals (issue 4): >= 5,000 items/s on
SQLite and PostgreSQL, ratio <= 2, memory bounded by the page size.

    .venv/bin/python bench/bench_sync.py [--volume 10000] [--repeat 5]
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from common import SECRET_KEY, Server, free_port, sandbox_token, server_env
from platform_server import migrate
from platform_server.config import Settings
from platform_server.db import create_engine, create_sessionmaker
from platform_server.integrations.models import Integration, SyncLog
from platform_server.integrations.providers.client import ProviderClient, ProviderHttp, StaticTokenSource
from platform_server.integrations.providers.github.importer import GitHubIssues
from platform_server.integrations.registry import PROVIDER_APIS
from platform_server.integrations.sync.base import ImportScope
from platform_server.integrations.sync.engine import Cursor, ImportEngine, ImportJob
from platform_server.teams.service import team_service


async def download(client: ProviderClient) -> tuple[int, int]:
    """(issues, bytes) of the importer's own page requests, mapped but not written: the floor of a sync."""
    seen: set[str] = set()
    size = 0
    async for page in GitHubIssues().pages(client, ImportScope("acme/product"), None, None):
        # Keyset pages overlap by the issues sharing the boundary second.
        seen.update(row["external_id"] for row in page.rows)
        size += sum(len(str(row)) for row in page.rows)
    return len(seen), size


@asynccontextmanager
async def database(kind: str, tmp: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'sync-{uuid.uuid4().hex[:8]}.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
        return
    base = os.environ.get("BENCH_POSTGRES_URL") or os.environ["TEST_POSTGRES_URL"]
    name = f"bench_sync_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


class Target:
    """A team with a GitHub integration; each run imports into a fresh workspace of it."""

    def __init__(self, url: str, base: str) -> None:
        self.settings = Settings(
            _env_file=None, DATABASE_URL=url, SECRET_KEY=SECRET_KEY, PLATFORM_SANDBOX=True, PUBLIC_BASE_URL=base
        )
        self.engine = create_engine(self.settings)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.team_id = self.integration_id = ""

    async def setup(self) -> None:
        async with self.sessionmaker() as session, session.begin():
            team, _, _, _, _ = await team_service.bootstrap(
                session, team_name="Bench", email=f"bench-{uuid.uuid4().hex[:6]}@example.com", workspace_name="Setup"
            )
            integration = Integration(
                team_id=team.id, provider="github", name="GitHub", status="connected", scopes=[], account_metadata={}
            )
            session.add(integration)
            await session.flush()
            self.team_id, self.integration_id = team.id, integration.id

    async def sync(self, client: ProviderClient) -> tuple[int, float]:
        from platform_server.workspaces.models import Workspace

        async with self.sessionmaker() as session, session.begin():
            workspace = Workspace(team_id=self.team_id, name=f"Run {uuid.uuid4().hex[:6]}")
            session.add(workspace)
            await session.flush()
            log = SyncLog(
                team_id=self.team_id,
                integration_id=self.integration_id,
                workspace_id=workspace.id,
                sync_type="import",
                source_entity="issues",
                target_entity="work_items",
                status="running",
                items_synced=0,
            )
            session.add(log)
            await session.flush()
        job = ImportJob(
            log_id=log.id,
            team_id=self.team_id,
            workspace_id=workspace.id,
            integration_id=self.integration_id,
            importer=GitHubIssues(),
            scope=ImportScope("acme/product"),
            cursor=Cursor(),
        )
        started = time.perf_counter()
        outcome = await ImportEngine(self.sessionmaker).run(job, client)
        elapsed = time.perf_counter() - started
        assert outcome.status == "completed", outcome
        return outcome.items_synced, elapsed


async def peak_memory(target: "Target", client: ProviderClient) -> int:
    """Peak bytes allocated during one sync (tracemalloc), after a warm-up sync filled the caches."""
    tracemalloc.start()
    try:
        await target.sync(client)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def bench_backend(kind: str, base: str, token: str, repeat: int, tmp: Path) -> dict[str, Any]:
    async with database(kind, tmp) as url:
        target = Target(url, base)
        await target.setup()
        http = ProviderHttp(target.settings, PROVIDER_APIS)
        client = http.client("github", StaticTokenSource("github", token))
        try:
            expected, size = await download(client)  # warm-up: connections, the sandbox's caches
            downloads, syncs = [], []
            for _ in range(repeat):
                started = time.perf_counter()
                await download(client)
                downloads.append(time.perf_counter() - started)
                synced, elapsed = await target.sync(client)
                assert synced == expected, (synced, expected)
                syncs.append(elapsed)
            peak = await peak_memory(target, client)
        finally:
            await http.aclose()
            await target.engine.dispose()
    ratios = [sync / down for sync, down in zip(syncs, downloads, strict=True)]
    return {
        "backend": kind,
        "items": expected,
        "items_per_s": statistics.median(expected / s for s in syncs),
        "sync_s": statistics.median(syncs),
        "download_s": statistics.median(downloads),
        "ratio": statistics.median(ratios),
        "peak_mb": peak / 1e6,
        "rows_mb": size / 1e6,
    }


async def main_async(base: str, volume: int, repeat: int, tmp: Path) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        response = await http.post("/sandbox/_control", json={"volume": volume})
        assert response.status_code == 200, response.text
    token = await sandbox_token(base)
    backends = ["sqlite"]
    if os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL"):
        backends.append("postgres")
    results = [await bench_backend(kind, base, token, repeat, tmp) for kind in backends]
    # The same sync of a tenth of the issues: a peak that does not shrink with the total is set by the page.
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        response = await http.post("/sandbox/_control", json={"volume": volume // 10})
        assert response.status_code == 200, response.text
    small = await bench_backend("sqlite", base, token, 1, tmp)
    for result in results:
        result["small_peak_mb"] = small["peak_mb"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volume", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = server_env(f"sqlite+aiosqlite:///{tmp / 'bench.db'}", port)
        migrate.upgrade(env["DATABASE_URL"])
        with Server(env, tmp, port, sandbox=True):
            results = asyncio.run(main_async(base, args.volume, args.repeat, tmp))
    print(f"sync of {args.volume} GitHub issues, 100 per page, medians of {args.repeat} runs")
    for r in results:
        print(
            f"{r['backend']:<9} {r['items']:>6} items  {r['items_per_s']:>8.0f} items/s  sync {r['sync_s']:.2f} s  "
            f"download {r['download_s']:.2f} s  ratio {r['ratio']:.2f}  peak {r['peak_mb']:.1f} MB "
            f"(rows of all pages: {r['rows_mb']:.1f} MB; a tenth of the issues: {r['small_peak_mb']:.1f} MB)"
        )
        goals = r["items_per_s"] >= 5000 and r["ratio"] <= 2
        print(f"          goals (>= 5000 items/s, ratio <= 2): {'met' if goals else 'NOT met'}")


if __name__ == "__main__":
    main()
