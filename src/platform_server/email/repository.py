from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from platform_server.db import utcnow
from platform_server.email.models import Email, EmailStatus, EmailSuppression
from platform_server.ids import is_valid_id, new_id
from platform_server.repository import Repository
from platform_server.sqlite_inline import PreparedStatement, PreparedTransaction


class EmailRepository(Repository[Email]):
    """Emails are written by the platform itself (webhooks, invitations), not through a team's API calls."""

    model = Email

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


# Every email queued or sent runs these; built once, run past the ORM (PreparedStatement).
_email_with_key = PreparedStatement(select(Email.id).where(Email.idempotency_key == bindparam("key")))
_queued = Email.status == EmailStatus.queued.value
_MESSAGE: list[Any] = [Email.to_address, Email.subject, Email.text_body, Email.html_body, Email.idempotency_key]
_queued_message = PreparedStatement(select(*_MESSAGE).where(Email.id == bindparam("email_id"), _queued))
_mark_sent = PreparedStatement(
    update(Email)
    .where(Email.id == bindparam("email_id"), _queued)
    .values(
        resend_id=bindparam("resend_id"),
        status=EmailStatus.sent.value,
        sent_at=bindparam("sent_at"),
        events=bindparam("events", type_=Email.events.type),
        text_body=None,
        html_body=None,
        updated_at=bindparam("updated_at"),
    )
)
_suppression_of = PreparedStatement(select(EmailSuppression.id).where(EmailSuppression.address == bindparam("address")))
_EMAIL_VALUES = (
    "id",
    "team_id",
    "kind",
    "to_address",
    "subject",
    "text_body",
    "html_body",
    "idempotency_key",
    "status",
    "events",
    "created_at",
    "updated_at",
)
_emails = Email.metadata.tables[Email.__tablename__]
_add_email = PreparedStatement(insert(_emails).values({name: bindparam(name) for name in _EMAIL_VALUES}))


async def queued_message(transaction: PreparedTransaction, email_id: str) -> dict[str, Any] | None:
    """The message of an email still queued (to_address, subject, text_body, html_body, idempotency_key)."""
    rows = await transaction.rows(_queued_message, {"email_id": email_id})
    return rows[0] if rows else None


async def mark_sent(
    transaction: PreparedTransaction, email_id: str, provider_id: str | None, events: list[dict[str, Any]]
) -> None:
    """Sent, unless no longer queued; the bodies go, being sent."""
    now = utcnow()
    await transaction.rows(
        _mark_sent,
        {"email_id": email_id, "resend_id": provider_id, "sent_at": now, "events": events, "updated_at": now},
    )


async def email_id_with_key(transaction: PreparedTransaction, key: str) -> str | None:
    rows = await transaction.rows(_email_with_key, {"key": key})
    return str(rows[0]["id"]) if rows else None


async def is_suppressed(transaction: PreparedTransaction, address: str) -> bool:
    return bool(await transaction.rows(_suppression_of, {"address": address}))


async def add_email(transaction: PreparedTransaction, values: dict[str, Any]) -> str:
    """Inserts an email row (every column but `id`, which it is given here); returns its id."""
    email_id = new_id()
    await transaction.rows(_add_email, {**values, "id": email_id})
    return email_id


class EmailSuppressionRepository(Repository[EmailSuppression]):
    model = EmailSuppression

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
