"""Email: recorded per recipient in the request (suppressed addresses skipped), sent by a job, and Resend's
delivery events applied."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.email.models import Email, EmailStatus
from platform_server.email.repository import (
    EmailRepository,
    EmailSuppressionRepository,
    add_email,
    email_id_with_key,
    is_suppressed,
    mark_sent,
    queued_message,
)
from platform_server.email.sender import OutboundEmail
from platform_server.ids import is_valid_id
from platform_server.jobs.queue import defer_in
from platform_server.log import get_logger
from platform_server.sqlite_inline import PreparedTransaction
from platform_server.webhook_events.models import WebhookOutcome, WebhookSource
from platform_server.webhook_events.repository import WebhookEventRepository

logger = get_logger("platform_server.email")

# The job that sends a queued email (email/tasks.py); named here so that queueing needs no import of the task.
SEND_EMAIL_TASK = "email.send"

# Delivery states only move forward. A late `delivered` never undoes `opened`, and nothing undoes `bounced`.
_STATUS_RANK: dict[str, int] = {
    EmailStatus.queued: 0,
    EmailStatus.scheduled: 1,
    EmailStatus.sent: 2,
    EmailStatus.delivery_delayed: 3,
    EmailStatus.delivered: 4,
    EmailStatus.opened: 5,
    EmailStatus.clicked: 6,
    EmailStatus.complained: 7,
    EmailStatus.failed: 8,
    EmailStatus.suppressed: 8,
    EmailStatus.bounced: 9,
}


@dataclass(frozen=True, slots=True)
class QueuedEmail:
    id: str
    # The new row's columns (but its id); None when the key named an email recorded before.
    values: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ResendOutcome:
    outcome: WebhookOutcome


def normalize_address(address: str) -> str:
    return address.strip().lower()


class EmailService:
    async def queue(
        self,
        session: AsyncSession,
        *,
        to: str,
        subject: str,
        text: str,
        kind: str,
        idempotency_key: str,
        team_id: str | None = None,
        html: str | None = None,
    ) -> Email:
        """`queue_in` the session's transaction. Returns the email recorded before under this key, loaded in the
        session, or else the new one's values (not loaded: its row was written past the ORM)."""
        queued = await self.queue_in(
            await PreparedTransaction.of_session(session),
            to=to,
            subject=subject,
            text=text,
            kind=kind,
            idempotency_key=idempotency_key,
            team_id=team_id,
            html=html,
        )
        if queued.values is None:
            email = await EmailRepository(session).get(queued.id)
            assert email is not None
            return email
        return Email(id=queued.id, **queued.values)

    async def queue_in(
        self,
        transaction: PreparedTransaction,
        *,
        to: str,
        subject: str,
        text: str,
        kind: str,
        idempotency_key: str,
        team_id: str | None = None,
        html: str | None = None,
    ) -> "QueuedEmail":
        """Records the email and defers its sending (`email.send`) in the caller's transaction: the row and the
        job commit together or not at all. The same idempotency key finds the email recorded before and queues
        nothing."""
        existing = await email_id_with_key(transaction, idempotency_key)
        if existing is not None:
            return QueuedEmail(existing, None)
        address = normalize_address(to)
        suppressed = await is_suppressed(transaction, address)
        now = utcnow()
        values: dict[str, Any] = {
            "team_id": team_id,
            "kind": kind,
            "to_address": address,
            "subject": subject,
            "text_body": text,
            "html_body": html,
            "idempotency_key": idempotency_key,
            "status": EmailStatus.suppressed.value if suppressed else EmailStatus.queued.value,
            "events": [_event_record(EmailStatus.suppressed, now)] if suppressed else [],
            "created_at": now,
            "updated_at": now,
        }
        email_id = await add_email(transaction, values)
        if suppressed:
            logger.info("email_suppressed", email_id=email_id, kind=kind)
        else:
            await defer_in(transaction, SEND_EMAIL_TASK, email_id=email_id)
        return QueuedEmail(email_id, values)

    async def outbound(
        self, transaction: PreparedTransaction, settings: Settings, email_id: str
    ) -> OutboundEmail | None:
        """The message to send for a queued email; None once it is sent, failed or gone (a job run again)."""
        if not is_valid_id(email_id):
            return None
        message = await queued_message(transaction, email_id)
        if message is None:
            return None
        return OutboundEmail(
            settings.EMAIL_FROM,
            message["to_address"],
            message["subject"],
            message["text_body"] or "",
            message["idempotency_key"],
            message["html_body"],
        )

    async def record_sent(self, transaction: PreparedTransaction, email_id: str, provider_id: str | None) -> None:
        """Once sent, unless the email is no longer queued (a job run again)."""
        await mark_sent(transaction, email_id, provider_id, [_event_record(EmailStatus.sent, utcnow())])

    async def record_failed(self, session: AsyncSession, email_id: str, reason: str) -> None:
        email = await EmailRepository(session).get_for_update(email_id)
        if email is None or email.status != EmailStatus.queued:
            return
        email.status = EmailStatus.failed
        email.error = reason
        email.events = [_event_record(EmailStatus.failed, utcnow())]
        await session.flush()
        logger.warning("email_failed", email_id=email.id, kind=email.kind, error=reason)

    async def handle_resend_event(self, session: AsyncSession, svix_id: str, payload: dict[str, Any]) -> ResendOutcome:
        """Stores the event once (by svix-id) and applies it to the email it is about, if we sent it."""
        event_type = str(payload.get("type", ""))
        events = WebhookEventRepository(session)
        row_id = await events.insert_once(WebhookSource.resend, svix_id, event_type, payload)
        if row_id is None:
            return ResendOutcome(WebhookOutcome.duplicate)
        data = payload.get("data")
        data = data if isinstance(data, dict) else {}
        # A suppression alone is the event applied, whether or not the email it is about is ours.
        unapplied = WebhookOutcome.ignored
        if await self._suppress_if_needed(session, event_type, data):
            await events.mark_processed(row_id)
            unapplied = WebhookOutcome.processed
        status = event_type.removeprefix("email.")
        resend_id = data.get("email_id")
        if not (event_type.startswith("email.") and status in _STATUS_RANK) or not isinstance(resend_id, str):
            return ResendOutcome(unapplied)
        email = await EmailRepository(session).get_by_resend_id_for_update(resend_id)
        if email is None:
            # Stored and acknowledged: Resend would otherwise retry an event we can never apply.
            logger.info("resend_event_for_unknown_email", type=event_type)
            return ResendOutcome(unapplied)
        occurred_at = _parse_time(payload.get("created_at")) or utcnow()
        email.events = sorted([*email.events, _event_record(status, occurred_at)], key=lambda event: event["at"])
        if _STATUS_RANK[status] > _STATUS_RANK.get(email.status, 0):
            email.status = status
        await events.mark_processed(row_id)
        await session.flush()
        return ResendOutcome(WebhookOutcome.processed)

    async def _suppress_if_needed(self, session: AsyncSession, event_type: str, data: dict[str, Any]) -> bool:
        """A hard bounce or a spam complaint stops all further email to the recipients."""
        bounce = data.get("bounce")
        if event_type == "email.bounced" and isinstance(bounce, dict) and bounce.get("type") == "Permanent":
            reason, detail = "hard_bounce", bounce.get("message")
        elif event_type == "email.complained":
            reason, detail = "complaint", None
        else:
            return False
        recipients = data.get("to")
        if isinstance(recipients, str):
            recipients = [recipients]
        addresses = {normalize_address(r) for r in recipients or [] if isinstance(r, str) and r.strip()}
        await EmailSuppressionRepository(session).suppress(
            sorted(addresses), reason, detail if isinstance(detail, str) else None
        )
        logger.info("email_addresses_suppressed", reason=reason, count=len(addresses))
        return True


def _event_record(status: str, at: datetime) -> dict[str, Any]:
    return {"type": status, "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


email_service = EmailService()
