from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from platform_server.billing.models import StripePendingEvent
from platform_server.db import utcnow
from platform_server.ids import new_id
from platform_server.repository import Repository, delete_batch
from platform_server.sqlite_inline import PreparedStatement, PreparedTransaction
from platform_server.webhook_events.models import WebhookEvent

_table = WebhookEvent.metadata.tables[WebhookEvent.__tablename__]


def _insert_once(insert: Callable[[Table], postgresql.Insert | sqlite.Insert]) -> Insert:
    columns = ("id", "source", "external_id", "type", "payload", "received_at")
    # On the table, not the mapped class: with parameters the ORM would take its (slower) bulk-insert path.
    return (
        insert(_table)
        .values({column: bindparam(column) for column in columns})
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(_table.c.id)
    )


# Built once (per dialect): every delivery runs them, and building costs more than running on SQLite; on SQLite
# they run past Core's execute too (PreparedStatement), which cost several times the insert itself.
_INSERT_ONCE = {
    "postgresql": PreparedStatement(_insert_once(postgresql.insert)),
    "sqlite": PreparedStatement(_insert_once(sqlite.insert)),
}
_MARK_PROCESSED = PreparedStatement(
    update(_table).where(_table.c.id == bindparam("event_row_id")).values(processed_at=bindparam("when"))
)


async def insert_event_once(
    transaction: PreparedTransaction, source: str, external_id: str, event_type: str, payload: dict[str, Any]
) -> str | None:
    """Stores the event unless it is already stored; returns the new row's id, or None for a redelivery.

    ON CONFLICT DO NOTHING closes the race between two concurrent deliveries: on PostgreSQL the second
    insert waits for the first transaction and then skips; on SQLite the write lock serializes them.
    """
    values = {
        "id": new_id(),
        "source": source,
        "external_id": external_id,
        "type": event_type,
        "payload": payload,
        "received_at": utcnow(),
    }
    inserted = await transaction.rows(_INSERT_ONCE[transaction.dialect.name], values)
    return str(inserted[0]["id"]) if inserted else None


async def mark_event_processed(
    transaction: PreparedTransaction, event_row_id: str, when: datetime | None = None
) -> None:
    await transaction.rows(_MARK_PROCESSED, {"event_row_id": event_row_id, "when": when or utcnow()})


class WebhookEventRepository(Repository[WebhookEvent]):
    model = WebhookEvent

    async def insert_once(self, source: str, external_id: str, event_type: str, payload: dict[str, Any]) -> str | None:
        """`insert_event_once` in the session's transaction."""
        transaction = await PreparedTransaction.of_session(self.session)
        return await insert_event_once(transaction, source, external_id, event_type, payload)

    async def delete_received_before(self, first_kept_id: str, limit: int) -> int:
        """Events stored before the row id `first_kept_id` (ids are time-ordered), except those still waiting
        for their team (stripe_pending_events lets go of them on its own retention)."""
        return await delete_batch(
            self.session,
            WebhookEvent,
            WebhookEvent.id < first_kept_id,
            WebhookEvent.id.not_in(select(StripePendingEvent.webhook_event_id)),
            limit=limit,
        )

    async def mark_processed(self, event_row_id: str, when: datetime | None = None) -> None:
        await mark_event_processed(await PreparedTransaction.of_session(self.session), event_row_id, when)
