from typing import Any

import pytest


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # PostgreSQL: the app runs a procrastinate worker in-process (`serve --with-worker`); SQLite always runs
    # jobs on its in-process runner.
    return {"PLATFORM_SANDBOX": True, "JOBS_WORKER_IN_SERVE": True}
