"""What starts an import without a person asking: a schedule coming due, or a provider's webhook. Both end in
`trigger_incremental_sync`, the one place that hands the run to the job layer."""

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.integrations.models import SyncLog, WorkspaceIntegration
from platform_server.integrations.sync.jobs import enqueue_sync


async def trigger_incremental_sync(
    session: AsyncSession, access: WorkspaceIntegration, *, reason: str
) -> SyncLog | None:
    """Queues an import of `access` (the provider's first import pair; incremental from the last cursor) in
    `session`'s transaction. None when one is already queued or running: the job's queueing lock coalesces a
    burst of events into one run. Raises the API's errors when the import cannot run (disabled, disconnected,
    no defaultProject where the import needs one)."""
    return await enqueue_sync(
        session,
        team_id=access.team_id,
        integration_id=access.integration_id,
        workspace_id=access.workspace_id,
        trigger=reason,
    )
