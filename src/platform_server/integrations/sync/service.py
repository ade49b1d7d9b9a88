"""Syncs: check the request, open the run's log, run it.

A sync commits page by page, so it cannot live inside the request's transaction: it runs on sessions of its
own, as a job (see `jobs.py`) or, synchronous, once the request's transaction has committed (see
`router.RunAfterCommit`); the request only adds the run's `running` log (and its job), in its one
transaction. A second request for the same integration and workspace sees the log and answers 409 — and the
database's partial unique index settles two requests that race past that check.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.db import utcnow
from platform_server.errors import Conflict, PlatformError, ResourceNotFound, ServiceUnavailable, ValidationFailed
from platform_server.ids import new_id
from platform_server.integrations.models import Integration, IntegrationStatus, SyncLog, WorkspaceIntegration
from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.client import (
    IntegrationExpired,
    ProviderClient,
    ProviderError,
    ProviderForbidden,
    ProviderNotFound,
    ProviderRateLimited,
)
from platform_server.integrations.repository import IntegrationRepository
from platform_server.integrations.sync.base import Exporter, Importer, ImportScope
from platform_server.integrations.sync.engine import Cursor, ImportEngine, ImportJob, Outcome, Progress
from platform_server.integrations.sync.export import ExportEngine, ExportJob
from platform_server.integrations.sync.pairs import EXPORTERS, IMPORTERS, supported_pairs
from platform_server.integrations.sync.repository import RUNNING, SyncRepository
from platform_server.integrations.sync.schemas import SyncRequest, SyncType
from platform_server.workspaces.repository import WorkspaceRepository

# A job-less run (the CLI's) whose last page is older than this belongs to a process that died.
STALE_AFTER = timedelta(minutes=10)

ClientFactory = Callable[[Integration], ProviderClient]


@dataclass(frozen=True, slots=True)
class SyncPlan:
    team_id: str
    workspace_id: str
    integration_id: str
    provider: str
    sync_type: SyncType
    source_entity: str
    target_entity: str
    importer: Importer | None
    exporter: Exporter | None
    scope: ImportScope


class SyncService:
    async def plan(
        self, session: AsyncSession, team_id: str, integration_id: str, body: SyncRequest
    ) -> tuple[SyncPlan, Integration]:
        """Every check that needs no provider call; raises the error the caller should see."""
        integration = await IntegrationRepository(session, team_id).get(integration_id)
        if integration is None:
            raise ResourceNotFound("Integration", integration_id)
        if await WorkspaceRepository(session, team_id).get(body.workspace_id) is None:
            raise ResourceNotFound("Workspace", body.workspace_id)
        importer, exporter = self._pair(integration.provider, body)
        access = await SyncRepository(session).enablement(team_id, body.workspace_id, integration.id)
        if access is None or not access.enabled:
            raise Conflict(
                f"The integration {integration.id} is not enabled for workspace {body.workspace_id}; enable it "
                f"with POST /api/workspaces/{body.workspace_id}/integrations",
                details={"integrationId": integration.id, "workspaceId": body.workspace_id},
            )
        # `error` is a connected integration whose last token refresh failed for a passing reason; a sync may
        # well succeed, and a completed one puts it back to connected.
        if integration.status not in (IntegrationStatus.connected, IntegrationStatus.error):
            raise Conflict(
                f"The integration {integration.id} is {integration.status}, not connected; "
                + ("reconnect it" if integration.status != IntegrationStatus.pending else "finish connecting it")
                + " before syncing",
                details={"integrationId": integration.id, "status": integration.status},
            )
        scope = ImportScope(self._project(access, importer or exporter), dict(integration.account_metadata or {}))
        plan = SyncPlan(
            team_id=team_id,
            workspace_id=body.workspace_id,
            integration_id=integration.id,
            provider=integration.provider,
            sync_type=body.sync_type,
            source_entity=body.source_entity,
            target_entity=body.target_entity,
            importer=importer,
            exporter=exporter,
            scope=scope,
        )
        return plan, integration

    @staticmethod
    def _pair(provider: str, body: SyncRequest) -> tuple[Importer | None, Exporter | None]:
        importer = exporter = None
        if body.sync_type is SyncType.import_:
            importer = IMPORTERS.get((provider, body.source_entity))
            if importer is not None and importer.target_entity != body.target_entity:
                importer = None
        elif body.source_entity == "work_items":
            exporter = EXPORTERS.get((provider, body.target_entity))
        if importer is None and exporter is None:
            pairs = supported_pairs(provider)
            listing = "; ".join(f"{p['syncType']} {p['sourceEntity']} → {p['targetEntity']}" for p in pairs)
            raise ValidationFailed(
                f"{provider} does not support {body.sync_type.value} {body.source_entity} → {body.target_entity}"
                + (f"; supported: {listing}" if pairs else "; it supports no sync"),
                details={"supported": pairs},
            )
        return importer, exporter

    @staticmethod
    def _project(access: WorkspaceIntegration, handler: Importer | Exporter | None) -> str | None:
        assert handler is not None
        hint = getattr(handler, "project_hint", "the provider's project")
        required = getattr(handler, "project_required", True)
        where = f"PATCH /api/workspaces/{access.workspace_id}/integrations/{access.integration_id}"
        if not access.default_project:
            if not required:
                return None
            raise ValidationFailed(
                f"The workspace has no defaultProject for this integration; set it ({hint}) with {where}",
                details={"defaultProject": None, "expected": hint},
            )
        try:
            return handler.parse_project(access.default_project)
        except InvalidProject as exc:
            raise ValidationFailed(
                f"{exc}; change it with {where}", details={"defaultProject": access.default_project}
            ) from exc

    async def open_log(self, session: AsyncSession, plan: SyncPlan) -> SyncLog | None:
        """Adds the run's `running` log (with the cursor to continue from) to the caller's transaction; None when
        a run of this integration and workspace is already queued or running.

        The database's partial unique index over running logs settles two requests that race past the check.
        A run without a job (`platform-server sync`) whose process died shows no progress: after STALE_AFTER
        a new run takes over (runs with a job are recovered by the job engine instead).
        """
        repository = SyncRepository(session)
        current = await repository.running(plan.integration_id, plan.workspace_id)
        if current is not None:
            if current.job_id is not None or not _stale(current):
                return None
            await repository.fail_running("Stalled: no progress for too long", log_id=current.id)
        cursor = None
        if plan.importer is not None:
            cursor = await repository.last_cursor(
                plan.integration_id, plan.workspace_id, plan.sync_type.value, plan.source_entity
            )
        log = SyncLog(
            id=new_id(),
            team_id=plan.team_id,
            integration_id=plan.integration_id,
            workspace_id=plan.workspace_id,
            sync_type=plan.sync_type.value,
            source_entity=plan.source_entity,
            target_entity=plan.target_entity,
            status=RUNNING,
            items_synced=0,
            duration_ms=0,
            cursor=cursor,
            started_at=utcnow(),
        )
        if not await repository.add_running(log):
            return None
        return log

    async def open_log_or_busy(self, session: AsyncSession, plan: SyncPlan) -> SyncLog:
        """A synchronous run's `running` log, in the request's transaction; 409 while another run has one."""
        log = await self.open_log(session, plan)
        if log is None:
            raise await self.busy(session, plan)
        return log

    async def claim(self, sessionmaker: async_sessionmaker[AsyncSession], plan: SyncPlan) -> SyncLog:
        """A run without a job started outside a request (`platform-server sync`): commits its `running` log on
        a session of its own, or raises 409."""
        async with sessionmaker() as session, session.begin():
            log = await self.open_log(session, plan)
            if log is None:
                raise await self.busy(session, plan)
        return log

    async def busy(self, session: AsyncSession, plan: SyncPlan) -> Conflict:
        return _busy(await SyncRepository(session).running(plan.integration_id, plan.workspace_id))

    async def run(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        plan: SyncPlan,
        log: SyncLog,
        client: ProviderClient,
        progress: Progress | None = None,
        *,
        hold: tuple[type[ProviderError], ...] = (),
    ) -> Outcome:
        """Runs the sync on its own sessions (a page per transaction). `hold`: provider errors that leave the
        log running and propagate, for the job to retry later from the committed cursor."""
        if plan.importer is not None:
            job = ImportJob(
                log_id=log.id,
                team_id=plan.team_id,
                workspace_id=plan.workspace_id,
                integration_id=plan.integration_id,
                importer=plan.importer,
                scope=plan.scope,
                cursor=Cursor.load(log.cursor),
            )
            return await ImportEngine(sessionmaker).run(job, client, progress, hold=hold)
        assert plan.exporter is not None
        export = ExportJob(
            log_id=log.id,
            team_id=plan.team_id,
            workspace_id=plan.workspace_id,
            integration_id=plan.integration_id,
            provider=plan.provider,
            exporter=plan.exporter,
            scope=plan.scope,
        )
        return await ExportEngine(sessionmaker).run(export, client, progress, hold=hold)


def _stale(log: SyncLog) -> bool:
    last_progress = log.started_at + timedelta(milliseconds=log.duration_ms or 0)
    return utcnow() - last_progress > STALE_AFTER


def _busy(log: SyncLog | None) -> Conflict:
    details: dict[str, Any] = {"syncLogId": log.id} if log is not None else {}
    return Conflict(
        "A sync of this integration is already running for this workspace; wait for it to finish",
        details=details,
    )


def failure_error(outcome: Outcome) -> PlatformError:
    """The error response for a run that ended `failed`; its sync log keeps the same message."""
    error = outcome.error
    details: dict[str, Any] = {"syncLogId": outcome.log_id}
    if error is None:
        return Conflict("The sync was stopped by another run or a restart; run it again to resume", details=details)
    details["provider"] = error.provider
    if isinstance(error, IntegrationExpired | ProviderForbidden):
        return Conflict(error.message, details=details)
    if isinstance(error, ProviderNotFound):
        return ValidationFailed(error.message, details=details)
    if isinstance(error, ProviderRateLimited):
        details["retryAfterSeconds"] = error.retry_after_seconds
        return ServiceUnavailable(
            error.message + "; the next sync resumes from the last committed page",
            details=details,
            headers={"Retry-After": str(error.retry_after_seconds)},
        )
    return ServiceUnavailable(error.message + "; the next sync resumes from the last committed page", details=details)


sync_service = SyncService()
