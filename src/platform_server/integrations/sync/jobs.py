"""Syncs as jobs: `start_sync` adds a run's `running` log and its job to the caller's transaction; the `sync`
task runs it on any worker.

Exactly one run per (integration, workspace): the job's procrastinate `lock` and `queueing_lock` are
`sync:<integration>:<workspace>`, and the partial unique index over running logs refuses a second log. A retried
attempt (a provider's 429/5xx, or a worker that died mid-run) takes over the same log and resumes from its
committed cursor: pages are committed one by one with the cursor, so nothing is lost and the upsert on the
source key makes nothing duplicate.
"""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.errors import Conflict, PlatformError, ResourceNotFound, ValidationFailed
from platform_server.integrations.models import SyncLog
from platform_server.integrations.providers.client import ProviderRateLimited, ProviderUnavailable
from platform_server.integrations.repository import IntegrationRepository
from platform_server.integrations.sync.pairs import IMPORTERS
from platform_server.integrations.sync.repository import RUNNING, SyncRepository
from platform_server.integrations.sync.schemas import SyncRequest, SyncType
from platform_server.integrations.sync.service import SyncPlan, sync_service
from platform_server.jobs.queue import AlreadyEnqueued, cancel, defer
from platform_server.jobs.registry import JobContext, RetryLater, task
from platform_server.jobs.runner import backoff
from platform_server.log import get_logger

logger = get_logger(__name__)

SYNC_TASK = "integrations.sync"
SYNC_QUEUE = "sync"
# Attempts of one run: provider rate limits and outages are retried with backoff this many times in all.
SYNC_MAX_ATTEMPTS = 5


def sync_lock(integration_id: str, workspace_id: str) -> str:
    return f"sync:{integration_id}:{workspace_id}"


async def start_sync(session: AsyncSession, plan: SyncPlan) -> SyncLog | None:
    """The run's `running` log and its job, in the caller's transaction; None when one is already queued or
    running for this integration and workspace."""
    log = await sync_service.open_log(session, plan)
    if log is None:
        return None
    lock = sync_lock(plan.integration_id, plan.workspace_id)
    try:
        job_id = await defer(session, SYNC_TASK, lock=lock, queueing_lock=lock, log_id=log.id)
    except AlreadyEnqueued:
        await session.delete(log)
        await session.flush()
        return None
    log.job_id = job_id
    await SyncRepository(session).set_job(log.id, job_id)
    return log


async def enqueue_sync(
    session: AsyncSession,
    *,
    team_id: str,
    integration_id: str,
    workspace_id: str,
    trigger: str,
    sync_type: str = "import",
    source_entity: str | None = None,
    target_entity: str | None = None,
) -> SyncLog | None:
    """Schedules and webhooks: a sync of the integration into (or out of) the workspace, as a job, in the
    caller's transaction. Entities default to the provider's first import pair (work_items → issues for an
    export). None when a run is already queued or running; raises the API's errors (ResourceNotFound,
    Conflict for a disabled or disconnected integration, ValidationFailed for a missing defaultProject or an
    unsupported pair)."""
    integration = await IntegrationRepository(session, team_id).get(integration_id)
    if integration is None:
        raise ResourceNotFound("Integration", integration_id)
    kind = SyncType(sync_type)
    source, target = default_entities(integration.provider, kind, source_entity, target_entity)
    body = SyncRequest(sync_type=kind, workspace_id=workspace_id, source_entity=source, target_entity=target)
    plan, _ = await sync_service.plan(session, team_id, integration_id, body)
    log = await start_sync(session, plan)
    if log is not None:
        logger.info("sync_enqueued", log_id=log.id, trigger=trigger, integration_id=integration_id)
    return log


def default_entities(provider: str, sync_type: SyncType, source: str | None, target: str | None) -> tuple[str, str]:
    """Defaults: the provider's first import pair, or work_items → issues for an export."""
    if sync_type is SyncType.export:
        return source or "work_items", target or "issues"
    if source is None:
        first = next((entity for (name, entity) in IMPORTERS if name == provider), None)
        if first is None:
            raise ValidationFailed(f"{provider} has nothing to import")
        source = first
    importer = IMPORTERS.get((provider, source))
    # An unknown pair is passed on as it is, so the refusal names the supported ones.
    return source, target or (importer.target_entity if importer is not None else "work_items")


async def cancel_sync(session: AsyncSession, team_id: str, integration_id: str, log_id: str) -> SyncLog:
    """Cancels a queued or running run: its job is cancelled if it has not started, and a running one stops
    at its next page (the log is no longer `running`, so its next page write is refused)."""
    repository = SyncRepository(session)
    log = await repository.team_log(team_id, integration_id, log_id)
    if log is None:
        raise ResourceNotFound("Sync log", log_id)
    if log.status != RUNNING:
        raise Conflict(
            f"The sync {log_id} is {log.status}; only a queued or running sync can be cancelled",
            details={"syncLogId": log_id, "status": log.status},
        )
    await repository.cancel(log.id, "Cancelled; the next sync resumes from the last committed page")
    if log.job_id is not None:
        await cancel(session, log.job_id)
    refreshed = await repository.get_log(log.id)
    assert refreshed is not None
    return refreshed


@task(SYNC_TASK, queue=SYNC_QUEUE, max_attempts=SYNC_MAX_ATTEMPTS)
async def run_sync(ctx: JobContext, *, log_id: str) -> None:
    resources = ctx.resources
    async with resources.sessionmaker() as session:
        log = await SyncRepository(session).get_log(log_id)
        if log is None or log.status != RUNNING:
            # Cancelled while queued, or finished by an earlier attempt.
            return
        assert log.workspace_id is not None
        body = SyncRequest(
            sync_type=SyncType(log.sync_type),
            workspace_id=log.workspace_id,
            source_entity=log.source_entity or "",
            target_entity=log.target_entity or "",
        )
        try:
            plan, integration = await sync_service.plan(session, log.team_id, log.integration_id, body)
        except PlatformError as exc:
            # Disconnected, disabled or reconfigured since it was queued.
            await _fail(ctx, log_id, exc.message)
            return
    last_attempt = ctx.attempt >= SYNC_MAX_ATTEMPTS
    hold = () if last_attempt else (ProviderRateLimited, ProviderUnavailable)
    client = resources.token_manager.client_for(integration)
    try:
        outcome = await sync_service.run(resources.sessionmaker, plan, log, client, hold=hold)
    except ProviderRateLimited as exc:
        raise RetryLater(exc.message, timedelta(seconds=exc.retry_after_seconds)) from exc
    except ProviderUnavailable as exc:
        raise RetryLater(exc.message, backoff(ctx.attempt)) from exc
    if last_attempt and isinstance(outcome.error, ProviderRateLimited | ProviderUnavailable):
        await _note_gave_up(ctx, log_id, outcome.error.message)


async def _fail(ctx: JobContext, log_id: str, reason: str) -> None:
    async with ctx.resources.sessionmaker() as session, session.begin():
        await SyncRepository(session).fail_running(reason, log_id=log_id)


async def _note_gave_up(ctx: JobContext, log_id: str, message: str) -> None:
    async with ctx.resources.sessionmaker() as session, session.begin():
        await SyncRepository(session).set_error(
            log_id, f"{message}; gave up after {ctx.attempt} attempts, retried with backoff"
        )
