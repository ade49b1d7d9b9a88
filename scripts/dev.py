#!/usr/bin/env python3
"""Install into ./.venv from the lock files, then serve or test. Needs only python3 (3.11+).

    python3 scripts/dev.py serve [platform-server serve options]
    python3 scripts/dev.py test [pytest options]   (in parallel, `-n auto`, unless the options say -n)
"""

import hashlib
import os
import socket
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LOCKS = {"serve": ROOT / "requirements" / "main.lock", "test": ROOT / "requirements" / "dev.lock"}
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(arg) for arg in args], check=True, cwd=ROOT, env=env)


def install(lock: Path) -> None:
    """Installs only when the lock or the project metadata changed since the last install."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is required; this is {sys.version.split()[0]}")
    fingerprint = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    marker = VENV / f".installed-{lock.stem}"
    if marker.exists() and marker.read_text() == fingerprint:
        return
    if not (BIN / "python").exists():
        say("Creating .venv")
        venv.create(VENV, with_pip=True)
    say(f"Installing pinned dependencies from {lock.relative_to(ROOT)}")
    pip = (BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    run(*pip, "--require-hashes", "-r", lock)
    run(*pip, "--no-deps", "--no-build-isolation", "-e", ".")
    marker.write_text(fingerprint)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def test_environment() -> dict[str, str]:
    """Uses the local PostgreSQL and Redis when they answer, so their tests run rather than skip."""
    env = dict(os.environ)
    if "TEST_POSTGRES_URL" not in env and reachable("127.0.0.1", 5432):
        env["TEST_POSTGRES_URL"] = LOCAL_POSTGRES
    if "TEST_REDIS_URL" not in env and reachable("127.0.0.1", 6379):
        env["TEST_REDIS_URL"] = LOCAL_REDIS
    for name in ("TEST_POSTGRES_URL", "TEST_REDIS_URL"):
        say(f"{name}={env.get(name, '(not set: those tests are skipped)')}")
    return env


def pytest_arguments(rest: list[str]) -> list[str]:
    """Parallel by default (pytest-xdist, one worker per core), as CI runs; `-n N`, `-n0` or `-p no:xdist` win."""
    chooses = any(arg == "-n" or arg.startswith(("-n", "--numprocesses")) for arg in rest)
    if chooses or "no:xdist" in rest:
        return rest
    return ["-n", "auto", *rest]


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command not in LOCKS:
        sys.exit(__doc__)
    install(LOCKS[command])
    if command == "serve":
        os.execv(BIN / "platform-server", [str(BIN / "platform-server"), "serve", *rest])
    env = test_environment()
    os.execve(BIN / "python", [str(BIN / "python"), "-m", "pytest", *pytest_arguments(rest)], env)


if __name__ == "__main__":
    main()
