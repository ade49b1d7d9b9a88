"""POST /api/integrations/{id}/sync."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.sync.repository import COMPLETED
from platform_server.integrations.sync.schemas import SyncRequest, SyncResult, SyncStarted
from platform_server.integrations.sync.service import failure_error, sync_service

router = APIRouter(prefix="/api/integrations", tags=["integrations"])


@router.post(
    "/{integration_id}/sync",
    operation_id="syncIntegration",
    summary="Import provider items into the workspace, or export work items to the provider",
    response_model=SyncResult,
    responses={
        202: {"model": SyncStarted, "description": 'Started in the background (`"async": true`)'},
        **error_responses(401, 404, 409, 422, 503),
    },
)
async def sync_integration(
    principal: CurrentPrincipal,
    session: SessionDep,
    request: Request,
    integration_id: str,
    body: SyncRequest,
) -> SyncResult | JSONResponse:
    """Imports GitHub `issues` or `pull_requests`, Jira `issues` and Linear `issues` into `work_items`, and
    Notion `pages` into `features`, from the workspace's `defaultProject`; or exports the workspace's unlinked
    work items as `issues` (`syncType: "export"`, `sourceEntity: "work_items"`).

    Incremental and idempotent: only items changed since the last run are fetched, and `itemsSynced` counts
    the items created or changed. One sync runs at a time per integration and workspace (409 otherwise).
    A failed run answers an error naming its `syncLogId`; the next run resumes from its last committed page.
    """
    plan, integration = await sync_service.plan(session, principal.team_id, integration_id, body)
    # The run commits on sessions of its own; end the request's transaction first so that on SQLite it holds
    # no write lock the run would wait for.
    await session.commit()
    state = request.app.state
    client: ProviderClient = state.token_manager.client_for(integration)
    log = await sync_service.claim(state.sessionmaker, plan)
    if body.run_async:
        state.sync_runner.spawn(sync_service.run(state.sessionmaker, plan, log, client), name=f"sync-{log.id}")
        started = SyncStarted(sync_log_id=log.id, status="running")
        return JSONResponse(started.model_dump(mode="json", by_alias=True), status_code=202)
    outcome = await sync_service.run(state.sessionmaker, plan, log, client)
    if outcome.status != COMPLETED:
        raise failure_error(outcome)
    return SyncResult(
        sync_log_id=outcome.log_id, status="completed", items_synced=outcome.items_synced, duration=outcome.duration_ms
    )
