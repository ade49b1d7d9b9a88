"""Task registry: what a job may run, under which name, on which queue, with which retry policy.

Task functions are plain coroutines `async def run(ctx: JobContext, **arguments) -> None` whose arguments are
JSON values; the same function runs under procrastinate (PostgreSQL) and the in-process runner (SQLite).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from platform_server.config import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from platform_server.email.sender import EmailSender
    from platform_server.integrations.providers.client import ProviderHttp
    from platform_server.integrations.tokens import TokenManager
    from platform_server.security import Encryptor


class JobResources(Protocol):
    """What a task may use: the same objects the web app keeps on `app.state`, built once per process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    encryptor: "Encryptor"
    provider_http: "ProviderHttp"
    token_manager: "TokenManager"
    email_sender: "EmailSender"
    redis: "Redis | None"


@dataclass(frozen=True, slots=True)
class JobContext:
    resources: JobResources
    job_id: str
    # 1 on the first run; a retry after RetryLater or a crashed worker counts up.
    attempt: int


TaskFunction = Callable[..., Awaitable[None]]


class RetryLater(Exception):
    """Raised by a task for a passing failure: the job runs again after `delay` (a provider's Retry-After)."""

    def __init__(self, reason: str, delay: timedelta) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    name: str
    function: TaskFunction
    queue: str
    max_attempts: int
    # A cron expression for periodic tasks (procrastinate's periodic syntax); None for tasks only deferred.
    periodic: str | None


TASKS: dict[str, TaskDefinition] = {}


def task(
    name: str, *, queue: str = "default", max_attempts: int = 5, periodic: str | None = None
) -> Callable[[TaskFunction], TaskFunction]:
    def register(function: TaskFunction) -> TaskFunction:
        if name in TASKS:
            raise ValueError(f"task {name!r} is registered twice")
        TASKS[name] = TaskDefinition(name, function, queue, max_attempts, periodic)
        return function

    return register
