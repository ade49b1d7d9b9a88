"""What starts an import without a person asking: a schedule coming due, or a provider's webhook. Both end in
`trigger_incremental_sync`, the one place that hands the run to the job layer."""

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.integrations.models import SyncLog, WorkspaceIntegration
from platform_server.integrations.registry import PROVIDER_CLASSES
from platform_server.integrations.sync.base import Importer
from platform_server.jobs.queue import defer


def default_importer(provider: str) -> Importer | None:
    """The import a schedule or a webhook runs: the provider's first (GitHub issues, Linear and Jira issues)."""
    provider_class = PROVIDER_CLASSES.get(provider)
    if provider_class is None or not provider_class.importers:
        return None
    return provider_class.importers[0]


async def trigger_incremental_sync(
    session: AsyncSession, access: WorkspaceIntegration, *, reason: str
) -> SyncLog | None:
    """Queues an incremental import of `access` in `session`'s transaction; None when the provider has no
    import, or when one is already queued or running (the queueing lock coalesces a burst into one run)."""
    importer = default_importer(access.provider)
    if importer is None:
        return None
    await defer(
        session,
        "sync.run",
        queueing_lock=f"sync:{access.integration_id}:{access.workspace_id}",
        team_id=access.team_id,
        integration_id=access.integration_id,
        workspace_id=access.workspace_id,
        trigger=reason,
        source_entity=importer.source_entity,
        target_entity=importer.target_entity,
    )
    return None
