"""The answer of a synchronous sync, produced once the request's transaction has committed."""

from collections.abc import Awaitable, Callable

from fastapi import Response
from starlette.types import Receive, Scope, Send


class RunAfterCommit(Response):
    """A synchronous sync: the request's one transaction adds the run's `running` log and commits when the
    handler returns; the run itself goes on while this response is being sent, and its outcome is the answer.

    Why not the whole run inside the request's transaction: a sync commits page by page so that a failed or
    interrupted run keeps what it wrote and the next one resumes there, and on SQLite an open write transaction
    would hold the database's only write lock across every provider call (other requests, the job runner and
    the run's own token refresh would queue behind it). Why not a job the request waits for: on PostgreSQL
    `serve` runs no job unless a `worker` process is up, and the answer would lose the run's exact error
    (409/422/503 with Retry-After). The log committed first is what keeps one run at a time: a concurrent
    request, synchronous or not, sees it (or meets the partial unique index) and answers 409 at once. What
    `run` raises reaches the app's exception handlers like a handler's error (no byte is sent before it ends).
    """

    def __init__(self, run: Callable[[], Awaitable[Response]]) -> None:
        super().__init__()
        self._run = run

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._run()
        await response(scope, receive, send)
