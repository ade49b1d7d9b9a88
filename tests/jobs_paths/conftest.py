"""Task functions run here as a runner runs them: a JobContext over the app's own resources (real database,
real token manager, the sandbox providers and the simulated Resend)."""

from collections.abc import Callable
from typing import Any

import pytest

import platform_server.jobs.tasks  # noqa: F401 (registers every task)
from platform_server.jobs.registry import JobContext
from tests.email.conftest import resend_sandbox

__all__ = ["resend_sandbox"]


@pytest.fixture
def job_context(app: Any) -> Callable[..., JobContext]:
    def make(attempt: int = 1) -> JobContext:
        return JobContext(resources=app.state, job_id="test-job", attempt=attempt)

    return make
