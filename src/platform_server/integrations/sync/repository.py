"""Every query of the sync engine: the bulk upsert, the sync log's fenced progress writes, cursors, the guard."""

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any
from typing import cast as type_cast

from sqlalchemy import Index, Insert, Select, Table, Text, and_, case, cast, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from platform_server.db import utcnow
from platform_server.features.models import Feature
from platform_server.integrations.models import Integration, IntegrationStatus, SyncLog, WorkspaceIntegration
from platform_server.work_items.models import WorkItem

RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"

# One run at a time per integration and workspace, enforced by the database so two requests racing past
# the check cannot both start: a unique index over the running logs only. Created by 0007_sync_cursors.
RUNNING_GUARD = Index(
    "uq_sync_logs_running",
    SyncLog.integration_id,
    SyncLog.workspace_id,
    unique=True,
    sqlite_where=SyncLog.status == RUNNING,
    postgresql_where=SyncLog.status == RUNNING,
)

SOURCE_KEY = ("workspace_id", "integration_id", "source_entity", "external_id")


@cache
def _upsert_statement(dialect: str, model: type[WorkItem] | type[Feature], columns: tuple[str, ...]) -> Insert:
    """INSERT … ON CONFLICT (source key) DO UPDATE … WHERE something changed RETURNING id, built once.

    RETURNING yields only the rows inserted or actually updated (on both SQLite and PostgreSQL), which is
    what a sync reports as synced: an unchanged item costs no write and counts nothing.
    """
    table = type_cast(Table, model.__table__)
    statement: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    excluded = statement.excluded

    def differs(name: str) -> ColumnElement[bool]:
        current, incoming = table.c[name], excluded[name]
        if name == "labels":
            # PostgreSQL's json type has no equality operator; its text form is what was written.
            return cast(current, Text).is_distinct_from(cast(incoming, Text))
        return current.is_distinct_from(incoming)

    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(SOURCE_KEY),
        set_={**{name: excluded[name] for name in columns}, "updated_at": excluded.updated_at},
        where=or_(*(differs(name) for name in columns)),
    ).returning(table.c.id)


class SyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self, model: type[WorkItem] | type[Feature], columns: tuple[str, ...], rows: list[dict[str, Any]]
    ) -> int:
        """Writes a page in one statement; returns how many rows were new or changed."""
        if not rows:
            return 0
        statement = _upsert_statement(self.session.get_bind().dialect.name, model, columns)
        result = await self.session.execute(statement, rows)
        return len(result.all())

    async def known_versions(
        self,
        model: type[WorkItem] | type[Feature],
        scope: tuple[str, str, str],
        external_ids: Sequence[str],
    ) -> dict[str, datetime | None]:
        """The stored provider timestamps of these items, to skip fetching details of unchanged ones."""
        workspace_id, integration_id, source_entity = scope
        rows = await self.session.execute(
            select(model.external_id, model.source_updated_at).where(
                model.workspace_id == workspace_id,
                model.integration_id == integration_id,
                model.source_entity == source_entity,
                model.external_id.in_(list(external_ids)),
            )
        )
        return {str(external_id): updated for external_id, updated in rows}

    async def add_running(self, log: SyncLog) -> bool:
        """Inserts a `running` log unless one of the same integration and workspace exists (the guard index)."""
        table = type_cast(Table, SyncLog.__table__)
        dialect = self.session.get_bind().dialect.name
        statement: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        values = {column.key: getattr(log, column.key) for column in table.columns}
        inserted = await self.session.execute(
            statement.values(values)
            .on_conflict_do_nothing(
                index_elements=[SyncLog.integration_id, SyncLog.workspace_id], index_where=SyncLog.status == RUNNING
            )
            .returning(table.c.id)
        )
        return inserted.first() is not None

    async def set_error(self, log_id: str, error: str) -> None:
        await self.session.execute(update(SyncLog).where(SyncLog.id == log_id).values(error=error))

    async def set_job(self, log_id: str, job_id: str) -> None:
        await self.session.execute(update(SyncLog).where(SyncLog.id == log_id).values(job_id=job_id))

    async def cancel(self, log_id: str, reason: str) -> bool:
        """Ends a running log `cancelled`; its run stops at its next page (every page write is fenced)."""
        result = await self.session.execute(
            update(SyncLog)
            .where(SyncLog.id == log_id, SyncLog.status == RUNNING)
            .values(status=CANCELLED, error=reason, finished_at=utcnow())
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def advance(self, log_id: str, synced: int, cursor: str | None, duration_ms: int) -> bool:
        """Records a page on the run's log; false when the run is no longer the running one (fenced out)."""
        result = await self.session.execute(
            update(SyncLog)
            .where(SyncLog.id == log_id, SyncLog.status == RUNNING)
            .values(items_synced=SyncLog.items_synced + synced, cursor=cursor, duration_ms=duration_ms)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def finish(self, log_id: str, status: str, duration_ms: int, error: str | None = None) -> bool:
        result = await self.session.execute(
            update(SyncLog)
            .where(SyncLog.id == log_id, SyncLog.status == RUNNING)
            .values(status=status, duration_ms=duration_ms, error=error, finished_at=utcnow())
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def touch_integration(self, integration_id: str) -> None:
        """After a completed run: `lastSyncAt`, and an `error` status cleared, since the connection just worked."""
        recovered = Integration.status == IntegrationStatus.error
        await self.session.execute(
            update(Integration)
            .where(Integration.id == integration_id)
            .values(
                last_sync_at=utcnow(),
                status=case((recovered, IntegrationStatus.connected.value), else_=Integration.status),
                status_reason=case((recovered, None), else_=Integration.status_reason),
            )
        )

    async def enablement(self, team_id: str, workspace_id: str, integration_id: str) -> WorkspaceIntegration | None:
        result: WorkspaceIntegration | None = await self.session.scalar(
            select(WorkspaceIntegration).where(
                WorkspaceIntegration.team_id == team_id,
                WorkspaceIntegration.workspace_id == workspace_id,
                WorkspaceIntegration.integration_id == integration_id,
            )
        )
        return result

    async def get_log(self, log_id: str) -> SyncLog | None:
        return await self.session.get(SyncLog, log_id, populate_existing=True)

    async def team_log(self, team_id: str, integration_id: str, log_id: str) -> SyncLog | None:
        result: SyncLog | None = await self.session.scalar(
            select(SyncLog).where(
                SyncLog.id == log_id, SyncLog.team_id == team_id, SyncLog.integration_id == integration_id
            )
        )
        return result

    async def running(self, integration_id: str, workspace_id: str) -> SyncLog | None:
        result: SyncLog | None = await self.session.scalar(
            select(SyncLog).where(
                SyncLog.integration_id == integration_id,
                SyncLog.workspace_id == workspace_id,
                SyncLog.status == RUNNING,
            )
        )
        return result

    async def last_cursor(
        self, integration_id: str, workspace_id: str, sync_type: str, source_entity: str
    ) -> str | None:
        """The cursor of the latest run of this entity, finished or not: a failed run's committed pages count."""
        result: str | None = await self.session.scalar(
            select(SyncLog.cursor)
            .where(
                SyncLog.integration_id == integration_id,
                SyncLog.workspace_id == workspace_id,
                SyncLog.sync_type == sync_type,
                SyncLog.source_entity == source_entity,
                SyncLog.cursor.is_not(None),
            )
            .order_by(SyncLog.started_at.desc(), SyncLog.id.desc())
            .limit(1)
        )
        return result

    async def fail_running(
        self, reason: str, *, log_id: str | None = None, started_before: datetime | None = None
    ) -> int:
        """Marks running logs failed (one, or all of them); their cursors stay, so the next run resumes."""
        conditions = [SyncLog.status == RUNNING]
        if log_id is not None:
            conditions.append(SyncLog.id == log_id)
        if started_before is not None:
            conditions.append(SyncLog.started_at < started_before)
        result = await self.session.execute(
            update(SyncLog).where(and_(*conditions)).values(status=FAILED, error=reason, finished_at=utcnow())
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount)


class ExportRepository:
    """Work items waiting for export, team-scoped like every work item query."""

    def __init__(self, session: AsyncSession, team_id: str) -> None:
        self.session = session
        self.team_id = team_id

    def _unlinked(self, workspace_id: str) -> Select[WorkItem]:
        return select(WorkItem).where(
            WorkItem.team_id == self.team_id,
            WorkItem.workspace_id == workspace_id,
            WorkItem.integration_id.is_(None),
            WorkItem.external_id.is_(None),
        )

    async def count_unlinked(self, workspace_id: str) -> int:
        statement = self._unlinked(workspace_id).with_only_columns(func.count())
        return int(await self.session.scalar(statement) or 0)

    async def unlinked(self, workspace_id: str, after: str | None, limit: int) -> Sequence[WorkItem]:
        statement = self._unlinked(workspace_id)
        if after is not None:
            statement = statement.where(WorkItem.id > after)
        return (await self.session.scalars(statement.order_by(WorkItem.id).limit(limit))).all()

    async def link(self, work_item_id: str, values: dict[str, Any]) -> bool:
        """Links one item; false when something else linked it meanwhile (the issue then stays unlinked)."""
        result = await self.session.execute(
            update(WorkItem)
            .where(
                WorkItem.id == work_item_id,
                WorkItem.team_id == self.team_id,
                WorkItem.integration_id.is_(None),
            )
            .values(**values, updated_at=utcnow())
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1
