"""Background syncs at scale: 200 workspace integrations on PostgreSQL, 1 then 2 `worker` processes, random
`kill -9` of workers during the run; every work item checked at the end.

For each worker count, on a fresh PostgreSQL database: `serve --sandbox` (which only enqueues) with GitHub
connected through the sandbox's OAuth flow and enabled in `--integrations` workspaces (`acme/product`, whose
size is the sandbox's `volume` knob); 1 or 2 `platform-server worker --sandbox` processes. All syncs are
queued through the API (`"async": true`), and while they run a random worker is killed with SIGKILL `--kills`
times, spread over the run (when a quarter, half, … of the syncs have completed), and started again at once
(its jobs are recovered by a worker after `JOBS_STALLED_SECONDS`). When every
sync log has ended, each must be `completed`, each workspace must hold exactly the repository's issues (0 lost)
and no source key twice (0 duplicated), and the logs' `itemsSynced` must add up to the same total (no item
counted twice by a resumed run). Prints syncs/s and items/s per worker count, then one JSON line.

    .venv/bin/python bench/bench_jobs.py [--postgres URL] [--integrations 200] [--volume 100] \
        [--concurrency 10] [--kills 3]

The time from a pushed webhook to the item being visible is measured by the webhook triggers' benchmark part
(`webhook_to_visible_seconds` in the JSON line; null until it exists).
"""

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench_gateway import REPO, Gateway, connect_github
from common import CLI, Server, bootstrap, check, client, free_port, fresh_postgres, sandbox_token, server_env

STALLED_SECONDS = "3"


class Workers:
    """`platform-server worker` child processes; `kill_one` is `kill -9` of a random one, started again."""

    def __init__(self, env: dict[str, str], workdir: Path, count: int, concurrency: int) -> None:
        self.env, self.workdir, self.count, self.concurrency = env, workdir, count, concurrency
        self.processes: list[subprocess.Popen[bytes]] = []
        self.kills = 0

    def _start(self) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"worker-{len(self.processes) + self.kills}.log").open("wb")
        command = [CLI, "worker", "--sandbox", "--concurrency", str(self.concurrency)]
        # Our own console script, with arguments built here.
        return subprocess.Popen(command, env=self.env, cwd=self.workdir, stdout=log, stderr=log)  # noqa: S603

    def __enter__(self) -> "Workers":
        self.processes = [self._start() for _ in range(self.count)]
        return self

    def kill_one(self) -> None:
        victim = random.randrange(len(self.processes))
        self.processes[victim].send_signal(signal.SIGKILL)
        self.processes[victim].wait()
        self.kills += 1
        self.processes[victim] = self._start()

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def repository_issues(base_url: str) -> int:
    """How many issues (pull requests left out) the sandbox's repository holds, read like any client would."""
    token = await sandbox_token(base_url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    count, page = 0, 1
    async with client(base_url, headers) as http:
        while True:
            response = await http.get(
                f"/sandbox/github/repos/{REPO}/issues", params={"state": "all", "per_page": 100, "page": page}
            )
            check(response.status_code == 200, response.text)
            batch = response.json()
            count += sum(1 for issue in batch if "pull_request" not in issue)
            if len(batch) < 100:
                return count
            page += 1


async def setup(server: Server, ids: dict[str, str], integrations: int, volume: int) -> list[str]:
    """GitHub connected and enabled in `integrations` workspaces (the bootstrap's and new ones)."""
    host = f"127.0.0.1:{server.port}"
    auth = {"Authorization": f"Bearer {ids['api_key']}"}
    async with client(server.base_url, auth) as http:
        set_volume = await http.post("/sandbox/_control", json={"volume": volume})
        check(set_volume.status_code == 200, set_volume.text)
    await connect_github(Gateway(server, server, host, ids["workspace_id"], ids["api_key"]))
    workspaces = [ids["workspace_id"]]
    async with client(server.base_url, auth) as http:
        listed = await http.get("/api/integrations")
        check(listed.status_code == 200, listed.text)
        integration_id = listed.json()["integrations"][0]["id"]
        for number in range(1, integrations):
            created = await http.post("/api/workspaces", json={"name": f"Team {number}"})
            check(created.status_code == 201, created.text)
            workspace_id = created.json()["id"]
            enabled = await http.post(
                f"/api/workspaces/{workspace_id}/integrations",
                json={"integrationId": integration_id, "defaultProject": REPO},
            )
            check(enabled.status_code in (200, 201), enabled.text)
            workspaces.append(workspace_id)
    return [integration_id, *workspaces]


async def queue_syncs(server: Server, api_key: str, integration_id: str, workspaces: list[str]) -> None:
    async with client(server.base_url, {"Authorization": f"Bearer {api_key}"}) as http:

        async def start(workspace_id: str) -> None:
            body = {
                "syncType": "import",
                "workspaceId": workspace_id,
                "sourceEntity": "issues",
                "targetEntity": "work_items",
                "async": True,
            }
            response = await http.post(f"/api/integrations/{integration_id}/sync", json=body)
            check(response.status_code == 202, response.text)

        for first in range(0, len(workspaces), 8):
            await asyncio.gather(*(start(workspace_id) for workspace_id in workspaces[first : first + 8]))


async def run_once(args: argparse.Namespace, worker_count: int, workdir: Path, database_url: str) -> dict[str, Any]:
    port = free_port()
    env = server_env(
        database_url,
        port,
        PLATFORM_SANDBOX="1",
        JOBS_STALLED_SECONDS=STALLED_SECONDS,
        JOBS_CONCURRENCY=str(args.concurrency),
    )
    ids = bootstrap(env, workdir)
    with Server(env, workdir, port, sandbox=True) as server:
        integration_id, *workspaces = await setup(server, ids, args.integrations, args.volume)
        expected = await repository_issues(server.base_url)
        engine = create_async_engine(database_url)
        try:
            with Workers(env, workdir, worker_count, args.concurrency) as workers:
                started = time.perf_counter()
                await queue_syncs(server, ids["api_key"], integration_id, workspaces)
                kill_points = [len(workspaces) * (n + 1) // (args.kills + 1) for n in range(args.kills)]
                while True:
                    async with engine.connect() as connection:
                        running = await connection.scalar(
                            text("SELECT count(*) FROM sync_logs WHERE status = 'running'")
                        )
                    if running == 0:
                        break
                    if kill_points and len(workspaces) - running >= kill_points[0]:
                        kill_points.pop(0)
                        workers.kill_one()
                    await asyncio.sleep(0.2)
                elapsed = time.perf_counter() - started
                kills = workers.kills
            async with engine.connect() as connection:
                statuses = dict(
                    (await connection.execute(text("SELECT status, count(*) FROM sync_logs GROUP BY status"))).all()
                )
                reported = await connection.scalar(text("SELECT coalesce(sum(items_synced), 0) FROM sync_logs"))
                per_workspace = dict(
                    (
                        await connection.execute(
                            text("SELECT workspace_id, count(*) FROM work_items GROUP BY workspace_id")
                        )
                    ).all()
                )
                distinct_keys = await connection.scalar(
                    text("SELECT count(DISTINCT (workspace_id, source_entity, external_id)) FROM work_items")
                )
        finally:
            await engine.dispose()
    total = expected * len(workspaces)
    stored = sum(per_workspace.values())
    lost = sum(max(0, expected - per_workspace.get(workspace_id, 0)) for workspace_id in workspaces)
    duplicated = stored - distinct_keys
    check(statuses == {"completed": len(workspaces)}, f"sync logs ended {statuses}")
    check(lost == 0 and stored == total, f"{lost} items lost; {stored} stored of {total}")
    check(duplicated == 0, f"{duplicated} items duplicated")
    check(reported == total, f"the logs report {reported} items synced, not {total}")
    return {
        "workers": worker_count,
        "syncs": len(workspaces),
        "items": total,
        "seconds": round(elapsed, 2),
        "syncs_per_second": round(len(workspaces) / elapsed, 2),
        "items_per_second": round(total / elapsed, 1),
        "kills": kills,
        "lost": lost,
        "duplicated": duplicated,
    }


def run_all(args: argparse.Namespace) -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as scratch:
        for worker_count in (1, 2):
            workdir = Path(scratch) / f"workers-{worker_count}"
            workdir.mkdir()
            print(f"== {worker_count} worker process(es) ==", flush=True)
            try:
                with fresh_postgres(args.postgres) as database_url:
                    result = asyncio.run(run_once(args, worker_count, workdir, database_url))
            except Exception:
                # The scratch directory goes away with the run: show what the processes said first.
                for log in sorted(workdir.glob("*.log")):
                    print(f"--- {log.name}\n{log.read_text()[-4000:]}", file=sys.stderr)
                raise
            print(
                f"  {result['syncs']} syncs, {result['items']} items in {result['seconds']} s: "
                f"{result['syncs_per_second']} syncs/s, {result['items_per_second']} items/s; "
                f"{result['kills']} workers killed, {result['lost']} lost, {result['duplicated']} duplicated",
                flush=True,
            )
            results.append(result)
    summary = {
        "benchmark": "jobs",
        "integrations": args.integrations,
        "volume": args.volume,
        "concurrency": args.concurrency,
        "kills": args.kills,
        "load_average": os.getloadavg()[0],
        "runs": {str(result["workers"]): result for result in results},
        "webhook_to_visible_seconds": None,
    }
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--integrations", type=int, default=200, help="workspaces GitHub is enabled in")
    parser.add_argument("--volume", type=int, default=100, help="issues in the sandbox's acme/product")
    parser.add_argument("--concurrency", type=int, default=10, help="jobs per worker process")
    parser.add_argument("--kills", type=int, default=3, help="kill -9 of a random worker during each run")
    run_all(parser.parse_args())


if __name__ == "__main__":
    main()
