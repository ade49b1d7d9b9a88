from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from platform_server.db import utcnow
from platform_server.email.models import Email, EmailSuppression
from platform_server.ids import is_valid_id, new_id
from platform_server.repository import Repository
from platform_server.sqlite_inline import PreparedStatement


class EmailRepository(Repository[Email]):
    """Emails are written by the platform itself (webhooks, invitations), not through a team's API calls."""

    model = Email

    async def get_by_idempotency_key(self, key: str) -> Email | None:
        found: Email | None = await self.session.scalar(select(Email).where(Email.idempotency_key == key))
        return found

    async def get(self, email_id: str) -> Email | None:
        return await self.session.get(Email, email_id) if is_valid_id(email_id) else None

    async def get_for_update(self, email_id: str) -> Email | None:
        if not is_valid_id(email_id):
            return None
        return await self.session.get(Email, email_id, with_for_update=True, populate_existing=True)

    async def get_by_resend_id_for_update(self, resend_id: str) -> Email | None:
        # The row lock serializes concurrent events for one email on PostgreSQL; SQLite's write lock does so.
        found: Email | None = await self.session.scalar(
            select(Email).where(Email.resend_id == resend_id).with_for_update()
        )
        return found


# Every email sent asks it; built once.
_suppression_of = PreparedStatement(select(EmailSuppression.id).where(EmailSuppression.address == bindparam("address")))


class EmailSuppressionRepository(Repository[EmailSuppression]):
    model = EmailSuppression

    async def is_suppressed(self, address: str) -> bool:
        rows = await _suppression_of.rows(await self.session.connection(), {"address": address})
        return bool(rows)

    async def suppress(self, addresses: Iterable[str], reason: str, detail: str | None) -> None:
        """Adds the addresses; an address already suppressed keeps its first reason."""
        rows = [
            {"id": new_id(), "address": address, "reason": reason, "detail": detail, "created_at": utcnow()}
            for address in addresses
        ]
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self.session.execute(
            insert(EmailSuppression).values(rows).on_conflict_do_nothing(index_elements=["address"])
        )
