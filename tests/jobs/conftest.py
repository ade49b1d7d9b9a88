from typing import Any

import pytest


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Quick retries; a second without a heartbeat means a dead runner.
    return {"PLATFORM_SANDBOX": True, "JOBS_RETRY_BACKOFF_SECONDS": 0.05, "JOBS_STALLED_SECONDS": 1.0}
