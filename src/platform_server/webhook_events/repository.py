from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from platform_server.db import utcnow
from platform_server.ids import new_id
from platform_server.repository import Repository
from platform_server.webhook_events.models import WebhookEvent


class WebhookEventRepository(Repository[WebhookEvent]):
    model = WebhookEvent

    async def insert_once(
        self, source: str, external_id: str, event_type: str, payload: dict[str, Any]
    ) -> str | None:
        """Stores the event unless it is already stored; returns the new row's id, or None for a redelivery.

        ON CONFLICT DO NOTHING closes the race between two concurrent deliveries: on PostgreSQL the second
        insert waits for the first transaction and then skips; on SQLite the write lock serializes them.
        """
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(WebhookEvent)
            .values(
                id=new_id(),
                source=source,
                external_id=external_id,
                type=event_type,
                payload=payload,
                received_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
            .returning(WebhookEvent.id)
        )
        inserted: str | None = await self.session.scalar(statement)
        return inserted

    async def mark_processed(self, event_row_id: str, when: datetime | None = None) -> None:
        await self.session.execute(
            update(WebhookEvent).where(WebhookEvent.id == event_row_id).values(processed_at=when or utcnow())
        )
