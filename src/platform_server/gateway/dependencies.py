import asyncio
import contextlib
from typing import Annotated

from fastapi import Depends, Request

from platform_server.gateway.audit import AuditWriter

# Long enough for a healthy writer (milliseconds), short enough that a stuck one costs a listing little.
AUDIT_WAIT_SECONDS = 2.0


async def audit_written(request: Request) -> None:
    """Lets a listing show the calls this process has just made: waits for the audit writer, for a bounded time.

    Declare it before any dependency that uses the database: the wait must not hold a pooled connection, or a
    slow writer would let listings exhaust the pool. When the time runs out, the listing shows what is stored.
    """
    writer: AuditWriter = request.app.state.audit_writer
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(AUDIT_WAIT_SECONDS):
            await writer.flush()


AuditWritten = Annotated[None, Depends(audit_written)]
