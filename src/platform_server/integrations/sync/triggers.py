"""What starts an import without a person asking: a schedule coming due, or a provider's webhook. Both end in
`trigger_incremental_sync`, the one place that hands the run to the job layer.

A change can arrive while a run of the same workspace integration is already under way, after it has read that
item: the run that is there cannot be relied on to see it. Such a trigger leaves one follow-up job (its own
queueing lock, a few seconds later) that tries again; a burst of events still queues at most one run and one
follow-up per workspace integration.
"""

import contextlib
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.errors import PlatformError
from platform_server.integrations.models import SyncLog, WorkspaceIntegration
from platform_server.integrations.repository import WorkspaceIntegrationRepository
from platform_server.integrations.sync.jobs import SYNC_QUEUE, enqueue_sync
from platform_server.jobs.queue import AlreadyEnqueued, defer
from platform_server.jobs.registry import JobContext, task
from platform_server.log import get_logger

logger = get_logger(__name__)

FOLLOW_UP_TASK = "sync.follow_up"
FOLLOW_UP_DELAY = timedelta(seconds=2)


async def trigger_incremental_sync(
    session: AsyncSession, access: WorkspaceIntegration, *, reason: str
) -> SyncLog | None:
    """Queues an import of `access` (the provider's first import pair; incremental from the last cursor) in
    `session`'s transaction. None when one is already queued or running (then a follow-up retries shortly).
    Raises the API's errors when the import cannot run (disabled, disconnected, no defaultProject where the
    import needs one)."""
    log = await enqueue_sync(
        session,
        team_id=access.team_id,
        integration_id=access.integration_id,
        workspace_id=access.workspace_id,
        trigger=reason,
    )
    if log is None:
        with contextlib.suppress(AlreadyEnqueued):
            await defer(
                session,
                FOLLOW_UP_TASK,
                queueing_lock=f"sync-follow-up:{access.id}",
                schedule_in=FOLLOW_UP_DELAY,
                team_id=access.team_id,
                workspace_id=access.workspace_id,
                integration_id=access.integration_id,
                reason=reason,
            )
    return log


@task(FOLLOW_UP_TASK, queue=SYNC_QUEUE, max_attempts=1)
async def follow_up(ctx: JobContext, *, team_id: str, workspace_id: str, integration_id: str, reason: str) -> None:
    async with ctx.resources.sessionmaker() as session, session.begin():
        access = await WorkspaceIntegrationRepository(session, team_id).get_for(workspace_id, integration_id)
        if access is None:
            return
        try:
            await trigger_incremental_sync(session, access, reason=reason)
        except PlatformError as exc:
            logger.info("sync_follow_up_not_started", access_id=access.id, reason=exc.message)
