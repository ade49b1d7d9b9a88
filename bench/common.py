"""What the HTTP benchmarks share: the real server in a child process, set up from outside, measured in rounds.

- `Server`: `platform-server serve` (uvicorn + uvloop + httptools, `--workers N`) started with a clean
  environment in a scratch directory (no `.env` is read), stopped at the end; its CPU time, and its workers',
  read from /proc so each round reports server CPU per request beside the throughput.
- `measure`: warm-up, then `runs` rounds in which every target runs in turn (machine drift hits all alike);
  medians of requests/s, p50, p99 and server CPU per request.
- `fresh_postgres` / `redis_prefix`: a database and a key prefix of the run's own, removed at the end.
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from loadgen import Exchange, WrongAnswer, load

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLI = str(Path(PYTHON).parent / "platform-server")
SECRET_KEY = "bench-secret-key-0123456789-bench-secret-key"  # noqa: S105 - a throwaway key for a scratch database
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Settings a developer's shell might carry that would change what is measured.
_INHERITED_SETTINGS = ("DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "PUBLIC_BASE_URL", "PLATFORM_SANDBOX")


def check(condition: bool, message: str) -> None:
    """A wrong answer stops the benchmark (an `assert` would vanish under `python -O`)."""
    if not condition:
        raise WrongAnswer(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, port: int, **settings: str) -> dict[str, str]:
    """The environment of a benchmarked server: the issue's conditions (rate limit off, logs at WARNING)."""
    env = {key: value for key, value in os.environ.items() if key not in _INHERITED_SETTINGS}
    env.update(
        DATABASE_URL=database_url,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        SECRET_KEY=SECRET_KEY,
        LOG_LEVEL="WARNING",
        RATE_LIMIT_ENABLED="false",
    )
    env.update(settings)
    return env


def cli(env: dict[str, str], workdir: Path, *args: str) -> str:
    # Our own console script, with arguments built here.
    done = subprocess.run([CLI, *args], env=env, cwd=workdir, check=True, capture_output=True, text=True)  # noqa: S603
    return done.stdout


def bootstrap(env: dict[str, str], workdir: Path) -> dict[str, str]:
    """Migrates, then creates a team, its owner, a workspace and an API key: `platform-server bootstrap`."""
    cli(env, workdir, "migrate")
    ids: dict[str, str] = json.loads(cli(env, workdir, "bootstrap", "--team", "Bench", "--email", "bench@example.com"))
    return ids


class Server:
    """`platform-server serve` in a child process; a context manager that waits for `/healthz`."""

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        port: int,
        workers: int = 1,
        sandbox: bool = False,
        command: list[str] | None = None,
    ) -> None:
        """`command`: another server to run instead (it need not answer `/healthz`, only answer HTTP)."""
        self.env, self.workdir, self.port, self.workers = env, workdir, port, workers
        self.args = command or [CLI, "serve", "--port", str(port), "--workers", str(workers), "--no-migrate"]
        if sandbox:
            self.args.append("--sandbox")
        self._any_answer = command is not None
        self.base_url = f"http://127.0.0.1:{port}"
        self._log = workdir / f"server-{port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Server":
        with self._log.open("wb") as log:
            # Our own console script, with arguments built here.
            self._process = subprocess.Popen(self.args, env=self.env, cwd=self.workdir, stdout=log, stderr=log)  # noqa: S603
        deadline = time.monotonic() + 120
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self._log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                status = httpx.get(f"{self.base_url}/healthz", timeout=1).status_code
                if (status == 200 or self._any_answer) and self._all_workers_up():
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self._log.read_text()[-3000:]}")
            time.sleep(0.2)

    def __exit__(self, *_: object) -> None:
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _all_workers_up(self) -> bool:
        # uvicorn's supervisor spawns the workers; one that has not finished starting leaves the shared socket
        # to the others, so wait until every worker exists and has gone idle (its startup done).
        if self.workers == 1:
            return True
        workers = self._pids()[1:]
        if len(workers) < self.workers:
            return False
        before = [self._cpu(pid) for pid in workers]
        time.sleep(0.5)
        return all(self._cpu(pid) - cpu < 0.05 for pid, cpu in zip(workers, before, strict=True))

    def _pids(self) -> list[int]:
        assert self._process is not None
        pids, pending = [], [self._process.pid]
        while pending:
            pid = pending.pop()
            pids.append(pid)
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(child) for child in (task / "children").read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its workers so far."""
        return sum(self._cpu(pid) for pid in self._pids())

    @staticmethod
    def _cpu(pid: int) -> float:
        try:
            # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass(frozen=True)
class Target:
    name: str
    server: Server
    exchanges: Sequence[Exchange]


@dataclass(frozen=True)
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    # Server CPU (every worker) per request, in microseconds: steadier than throughput on a busy machine.
    cpu_us: float
    # Cores the whole machine kept busy meanwhile (server, load generator, databases, anything else): near the
    # core count, the machine is saturated and more workers cannot add throughput.
    busy_cores: float = 0.0


def show(name: str, figures: Figures) -> None:
    print(
        f"  {name:<34} {figures.requests_per_second:8.0f} req/s   p50 {figures.p50_ms:7.2f} ms   "
        f"p99 {figures.p99_ms:7.2f} ms   server CPU {figures.cpu_us:7.0f} µs/req   "
        f"machine {figures.busy_cores:4.2f}/{os.cpu_count()} cores busy",
        flush=True,
    )


async def measure(
    targets: Sequence[Target], requests: int, concurrency: int, warmup: int, runs: int
) -> dict[str, Figures]:
    """Medians over `runs` rounds; each round runs every target in turn."""
    for target in targets:
        await load(target.server.port, target.exchanges, warmup, concurrency)
    rounds: dict[str, list[Figures]] = {target.name: [] for target in targets}
    for number in range(1, runs + 1):
        print(f"run {number}/{runs}: {requests} requests per target, concurrency {concurrency}", flush=True)
        for target in targets:
            figures = await measure_once(target.server, target.exchanges, requests, concurrency)
            rounds[target.name].append(figures)
            show(target.name, figures)
    return medians(rounds)


async def measure_once(server: Server, exchanges: Sequence[Exchange], requests: int, concurrency: int) -> Figures:
    """One load of `requests` (checked) with the server's CPU per request and the machine's busy cores."""
    cpu_before = server.cpu_seconds()
    with busy_cores() as busy:
        result = await load(server.port, exchanges, requests, concurrency)
    cpu_us = (server.cpu_seconds() - cpu_before) / requests * 1e6
    return Figures(result.requests_per_second, result.p50_ms, result.p99_ms, cpu_us, busy[0])


def _machine_busy_seconds() -> float:
    """CPU time every core has spent busy since boot (user, nice, system, irq, softirq, steal), in seconds."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@contextlib.contextmanager
def busy_cores() -> Iterator[list[float]]:
    """Yields a one-item list that holds, once the block ends, the cores the machine kept busy during it."""
    busy = [0.0]
    started, busy_before = time.perf_counter(), _machine_busy_seconds()
    yield busy
    busy[0] = (_machine_busy_seconds() - busy_before) / (time.perf_counter() - started)


def medians(rounds: dict[str, list[Figures]]) -> dict[str, Figures]:
    """Per target, the median of each figure over the rounds; printed."""
    fields = Figures.__dataclass_fields__
    result = {
        name: Figures(*(statistics.median(getattr(f, field) for f in figures) for field in fields))
        for name, figures in rounds.items()
    }
    print(f"medians of {max(len(figures) for figures in rounds.values())} runs:")
    for name, figures in result.items():
        show(name, figures)
    return result


def ratio_line(label: str, ratio: float, goal: float, cpu_ratio: float | None = None) -> str:
    """`cpu_ratio`: the same ratio from server CPU per request (denominator's ÷ numerator's), steadier when the
    machine is busy; the goal is stated in throughput."""
    verdict = "met" if ratio >= goal else "NOT MET"
    by_cpu = f"; by server CPU per request {cpu_ratio:.3f}" if cpu_ratio is not None else ""
    return f"{label}: {ratio:.3f} (goal >= {goal:.2f}: {verdict}){by_cpu}"


def summary(benchmark: str, conditions: dict[str, Any], figures: dict[str, Figures], **ratios: Any) -> dict[str, Any]:
    """The last line of every benchmark: one JSON object with everything the README tables need."""
    line: dict[str, Any] = {
        "benchmark": benchmark,
        **conditions,
        "load_average": os.getloadavg()[0],
        "figures": {name: {k: round(v, 3) for k, v in asdict(f).items()} for name, f in figures.items()},
        **ratios,
    }
    print(json.dumps(line), flush=True)
    return line


# -- PostgreSQL and Redis of the run's own -------------------------------------------------------------------


def http_parser(doc: str | None, requests: int = 2000, warmup: int = 300) -> argparse.ArgumentParser:
    """The options of every `measure`-based benchmark: load per target and round, connections, rounds."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=requests, help="measured requests per target and round")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections in flight")
    parser.add_argument("--warmup", type=int, default=warmup, help="unmeasured requests per target first")
    parser.add_argument("--runs", type=int, default=5)
    return parser


def add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the server")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL: a fresh database is created (and dropped) on the server of this URL, "
        "e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test; default: a fresh SQLite file",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="use Redis (e.g. redis://127.0.0.1:6379/0) with a key prefix of the run's own; the rate limiter "
        "then runs on it with its limits raised so nothing is refused",
    )


@contextlib.contextmanager
def services(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(database URL, extra server settings) for the options of `add_service_options`."""
    with contextlib.ExitStack() as stack:
        if args.postgres:
            database_url = stack.enter_context(fresh_postgres(args.postgres))
        else:
            database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        settings: dict[str, str] = {}
        if args.redis:
            settings = {
                "REDIS_URL": args.redis,
                "REDIS_KEY_PREFIX": stack.enter_context(redis_prefix(args.redis)),
                "RATE_LIMIT_ENABLED": "true",
                "RATE_LIMIT_FREE_PER_MINUTE": "1000000000",
                "RATE_LIMIT_PRO_PER_MINUTE": "1000000000",
            }
        yield database_url, settings


def conditions(args: argparse.Namespace, concurrency: int) -> dict[str, Any]:
    return {
        "database": "postgresql" if args.postgres else "sqlite",
        "redis": bool(args.redis),
        "workers": args.workers,
        "concurrency": concurrency,
        "requests": args.requests,
        "runs": args.runs,
    }


@contextlib.contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new database on the server of `admin_url`, dropped at the end; yields its URL."""
    import asyncpg

    name = f"bench_{secrets.token_hex(4)}"
    parts = urlsplit(admin_url.replace("postgresql+asyncpg://", "postgresql://", 1))

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(parts.geturl())
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of the run's own; its keys are deleted at the end."""
    from redis import Redis

    prefix = f"bench-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = Redis.from_url(redis_url)
        try:
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                client.delete(key)
        finally:
            client.close()


# -- MCP over Streamable HTTP, 2026-07-28 ---------------------------------------------------------------------

MCP_VERSION = "2026-07-28"
MCP_META = {
    "io.modelcontextprotocol/protocolVersion": MCP_VERSION,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}


def rpc(method: str, params: dict[str, Any] | None = None) -> bytes:
    """A JSON-RPC request body with the 2026-07-28 per-request envelope."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**(params or {}), "_meta": MCP_META}}
    return json.dumps(body).encode()


def rpc_headers(method: str, name: str | None = None, auth: dict[str, str] | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MCP_VERSION,
        "Mcp-Method": method,
        **(auth or {}),
    }
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def serve_mcp(server: Any, port: int, security: Any) -> None:
    """Serves a low-level `mcp` SDK `Server` at `/mcp` as the gateway serves its own (stateless, JSON answers),
    on uvicorn with uvloop and httptools; `security` is its `TransportSecuritySettings`."""
    import uvicorn

    app = server.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True, transport_security=security
    )
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning")


# -- the sandbox's OAuth flow, driven like a browser ---------------------------------------------------------


async def approve(http: httpx.AsyncClient, oauth_url: str) -> str:
    """Submits the sandbox consent page's Approve button; answers where the provider redirects."""
    parts = urlsplit(oauth_url)
    form = {**dict(parse_qsl(parts.query)), "decision": "approve"}
    response = await http.post(parts.path, data=form)
    check(response.status_code == 302, response.text)
    return response.headers["location"]


@contextlib.asynccontextmanager
async def client(base_url: str, headers: dict[str, str] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        yield http


async def sandbox_token(base_url: str) -> str:
    """A GitHub sandbox token obtained like any OAuth app would, for direct calls to the sandbox."""
    redirect_uri = f"{base_url}/api/integrations/oauth/callback"
    query = {"client_id": "sandbox-github", "redirect_uri": redirect_uri, "state": "bench", "scope": "repo"}
    async with client(base_url) as http:
        location = await approve(http, f"/sandbox/github/login/oauth/authorize?{httpx.QueryParams(query)}")
        response = await http.post(
            "/sandbox/github/login/oauth/access_token",
            data={
                "client_id": "sandbox-github",
                "client_secret": "sandbox-secret-github",
                "code": dict(parse_qsl(urlsplit(location).query))["code"],
                "redirect_uri": redirect_uri,
            },
            headers={"Accept": "application/json"},
        )
    token: str = response.json()["access_token"]
    return token
