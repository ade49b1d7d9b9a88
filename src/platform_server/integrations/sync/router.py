"""POST /api/integrations/{id}/sync and its cancellation."""

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.auth.dependencies import AdminPrincipal, CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.integrations.models import SyncLog
from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.sync.jobs import cancel_sync, start_sync
from platform_server.integrations.sync.repository import COMPLETED
from platform_server.integrations.sync.responses import RunAfterCommit
from platform_server.integrations.sync.schemas import SyncLogState, SyncRequest, SyncResult, SyncStarted
from platform_server.integrations.sync.service import SyncPlan, failure_error, sync_service
from platform_server.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/integrations", tags=["integrations"])


@router.post(
    "/{integration_id}/sync",
    operation_id="syncIntegration",
    summary="Import provider items into the workspace, or export work items to the provider",
    response_model=SyncResult,
    responses={
        202: {"model": SyncStarted, "description": 'Queued as a background job (`"async": true`)'},
        **error_responses(401, 404, 409, 422, 503),
    },
)
async def sync_integration(
    principal: CurrentPrincipal,
    session: SessionDep,
    request: Request,
    integration_id: str,
    body: SyncRequest,
) -> Response:
    """Imports GitHub `issues` or `pull_requests`, Jira `issues` and Linear `issues` into `work_items`, and
    Notion `pages` into `features`, from the workspace's `defaultProject`; or exports the workspace's unlinked
    work items as `issues` (`syncType: "export"`, `sourceEntity: "work_items"`).

    Incremental and idempotent: only items changed since the last run are fetched, and `itemsSynced` counts
    the items created or changed. One sync runs at a time per integration and workspace (409 otherwise).
    A failed run answers an error naming its `syncLogId`; the next run resumes from its last committed page.
    With `"async": true` the run is queued as a background job (retried on provider rate limits and outages,
    resumed by another worker if its worker dies) and can be cancelled.
    """
    plan, integration = await sync_service.plan(session, principal.team_id, integration_id, body)
    if body.run_async:
        log = await start_sync(session, plan)
        if log is None:
            raise await sync_service.busy(session, plan)
        started = SyncStarted(sync_log_id=log.id, status="running")
        return JSONResponse(started.model_dump(mode="json", by_alias=True), status_code=202)
    log = await sync_service.open_log_or_busy(session, plan)
    client: ProviderClient = request.app.state.token_manager.client_for(integration)
    return RunAfterCommit(lambda: _run(request.app.state.sessionmaker, plan, log, client))


async def _run(
    sessionmaker: async_sessionmaker[AsyncSession], plan: SyncPlan, log: SyncLog, client: ProviderClient
) -> Response:
    outcome = await sync_service.run(sessionmaker, plan, log, client)
    if outcome.status != COMPLETED:
        raise failure_error(outcome)
    result = SyncResult(
        sync_log_id=outcome.log_id, status="completed", items_synced=outcome.items_synced, duration=outcome.duration_ms
    )
    return JSONResponse(result.model_dump(mode="json", by_alias=True))


@router.post(
    "/{integration_id}/sync/{sync_log_id}/cancel",
    operation_id="cancelSync",
    summary="Cancel a queued or running sync",
    response_model=SyncLogState,
    responses=error_responses(401, 403, 404, 409),
)
async def cancel_integration_sync(
    principal: AdminPrincipal, session: SessionDep, integration_id: str, sync_log_id: str
) -> SyncLogState:
    """A queued run never starts; a running one stops at its next page boundary (what it committed stays, and
    the next sync resumes from there). Answers the sync log, now `cancelled`; 409 when it already ended."""
    log = await cancel_sync(session, principal.team_id, integration_id, sync_log_id)
    return SyncLogState.model_validate(log)
