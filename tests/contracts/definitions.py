"""Where the providers' definitions are: npm packages pinned in package-lock.json beside this file."""

import os
from pathlib import Path

import pytest

CONTRACTS = Path(__file__).resolve().parent
NODE_MODULES = CONTRACTS / "node_modules"


def definitions() -> Path:
    """node_modules with the definitions; without it the checks skip, or fail where every service is required."""
    if not (NODE_MODULES / ".package-lock.json").exists():
        message = f"the providers' definitions are not installed: run `npm ci` in {CONTRACTS}"
        if os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return NODE_MODULES
