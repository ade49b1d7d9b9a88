"""A verified provider event → the workspace integrations it affects → one queued import each.

Authentication finds the registrations (`push_webhooks` rows) whose secret signed the delivery; only their
integrations, and only their team's workspace integrations, are ever touched. The delivery is stored once per
delivery id (`webhook_events`) in the same transaction as the queued imports, so a redelivery changes nothing.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.config import Settings
from platform_server.errors import NotFound, PlatformError, Unauthorized
from platform_server.integrations.models import PushWebhook, WorkspaceIntegration
from platform_server.integrations.push.repository import PushWebhookRepository
from platform_server.integrations.push.verify import (
    check_jira_jwt,
    check_linear_timestamp,
    github_signature,
    json_object,
    linear_signature,
    signed_by,
)
from platform_server.integrations.registry import get_provider
from platform_server.integrations.sync.triggers import trigger_incremental_sync
from platform_server.log import get_logger
from platform_server.security import DecryptionError, Encryptor
from platform_server.webhook_events.intake import ensure_storable
from platform_server.webhook_events.repository import WebhookEventRepository

logger = get_logger(__name__)

GITHUB_HEADERS = ("X-Hub-Signature-256", "X-GitHub-Delivery", "X-GitHub-Event")
LINEAR_HEADERS = ("Linear-Signature", "Linear-Delivery")
JIRA_HEADERS = ("Authorization", "X-Atlassian-Webhook-Identifier")

# Which events change what an import brings in.
GITHUB_SYNC_EVENTS = frozenset({"issues", "pull_request"})
LINEAR_SYNC_TYPES = frozenset({"Issue"})
JIRA_SYNC_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"})


class PushKeys(Protocol):
    """What verifying a delivery needs: the app's state (or a job's resources) has both."""

    settings: Settings
    encryptor: Encryptor


@dataclass(frozen=True, slots=True)
class PushEvent:
    provider: str
    delivery_id: str
    event_type: str
    payload: dict[str, Any]
    # The registrations that authenticated the delivery.
    webhooks: Sequence[PushWebhook]
    # The repository, team key or project key the event is about, in the provider's form; None if unknown.
    project: str | None
    starts_sync: bool


@dataclass(frozen=True, slots=True)
class PushOutcome:
    duplicate: bool
    queued: int


def secret_associated_data(webhook_id: str) -> str:
    return f"push_webhooks:{webhook_id}:secret"


def _secrets(encryptor: Encryptor, webhooks: Sequence[PushWebhook]) -> list[tuple[PushWebhook, str]]:
    opened = []
    for webhook in webhooks:
        if webhook.secret_encrypted is None:
            continue
        try:
            opened.append((webhook, encryptor.decrypt(webhook.secret_encrypted, secret_associated_data(webhook.id))))
        except DecryptionError:
            logger.warning("push_webhook_secret_unreadable", push_webhook_id=webhook.id)
    return opened


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if not value:
        raise Unauthorized(f"Missing {name} header")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _matches(access: WorkspaceIntegration, event: PushEvent) -> bool:
    """A workspace with no defaultProject imports everything the integration sees; one with a project only
    cares about events of that project (compared the way each provider compares names: case-insensitively)."""
    if access.default_project is None or event.project is None:
        return True
    return access.default_project.casefold() == event.project.casefold()


class PushService:
    async def verify_github(
        self, session: AsyncSession, keys: PushKeys, body: bytes, headers: Mapping[str, str]
    ) -> PushEvent:
        digest = github_signature(headers.get("x-hub-signature-256"))
        delivery_id = _required(headers, "X-GitHub-Delivery")
        event_type = _required(headers, "X-GitHub-Event")
        event = json_object(body)
        repository = event.get("repository")
        full_name = _text(repository.get("full_name")) if isinstance(repository, dict) else None
        candidates = await PushWebhookRepository(session).by_target("github", full_name.lower()) if full_name else []
        webhooks = signed_by(_secrets(keys.encryptor, candidates), body, digest)
        if not webhooks:
            raise Unauthorized("Invalid X-Hub-Signature-256 signature")
        ensure_storable(delivery_id, event_type, event)
        return PushEvent(
            "github", delivery_id, event_type, event, webhooks, full_name, event_type in GITHUB_SYNC_EVENTS
        )

    async def verify_linear(
        self, session: AsyncSession, keys: PushKeys, body: bytes, headers: Mapping[str, str]
    ) -> PushEvent:
        signature = linear_signature(headers.get("linear-signature"))
        delivery_id = _required(headers, "Linear-Delivery")
        event = json_object(body)
        webhook_id = _text(event.get("webhookId"))
        repository = PushWebhookRepository(session)
        candidates = await repository.by_external_ids("linear", [webhook_id] if webhook_id else [])
        webhooks = signed_by(_secrets(keys.encryptor, candidates), body, signature)
        if not webhooks and webhook_id:
            # A webhook set up by hand: Linear chose its id, which its first verified delivery tells us.
            webhooks = signed_by(_secrets(keys.encryptor, await repository.manual_unbound("linear")), body, signature)
            for webhook in webhooks:
                webhook.external_id = webhook_id
        if not webhooks:
            raise Unauthorized("Invalid Linear-Signature signature")
        check_linear_timestamp(event)
        event_type = _text(event.get("type")) or "unknown"
        data = event.get("data")
        team = data.get("team") if isinstance(data, dict) else None
        project = _text(team.get("key")) if isinstance(team, dict) else None
        ensure_storable(delivery_id, event_type, event)
        return PushEvent("linear", delivery_id, event_type, event, webhooks, project, event_type in LINEAR_SYNC_TYPES)

    async def verify_jira(
        self, session: AsyncSession, keys: PushKeys, body: bytes, headers: Mapping[str, str]
    ) -> PushEvent:
        credentials = get_provider(keys.settings, "jira").credentials()
        if credentials is None:
            raise NotFound("The Jira webhook endpoint is disabled: JIRA_CLIENT_ID and JIRA_CLIENT_SECRET are not set")
        check_jira_jwt(headers.get("authorization"), credentials.client_secret)
        delivery_id = _required(headers, "X-Atlassian-Webhook-Identifier")
        event = json_object(body)
        matched = event.get("matchedWebhookIds")
        ids = [str(i) for i in matched if isinstance(i, int | str)] if isinstance(matched, list) else []
        webhooks = await PushWebhookRepository(session).by_external_ids("jira", ids)
        event_type = _text(event.get("webhookEvent")) or "unknown"
        issue = event.get("issue")
        fields = issue.get("fields") if isinstance(issue, dict) else None
        project = fields.get("project") if isinstance(fields, dict) else None
        key = _text(project.get("key")) if isinstance(project, dict) else None
        ensure_storable(delivery_id, event_type, event)
        return PushEvent("jira", delivery_id, event_type, event, webhooks, key, event_type in JIRA_SYNC_EVENTS)

    async def apply(self, session: AsyncSession, event: PushEvent) -> PushOutcome:
        """Stores the delivery once and queues an import of every affected workspace integration."""
        events = WebhookEventRepository(session)
        row_id = await events.insert_once(event.provider, event.delivery_id, event.event_type, event.payload)
        if row_id is None:
            return PushOutcome(duplicate=True, queued=0)
        queued = 0
        if event.starts_sync:
            for access in await self.affected_accesses(session, event):
                try:
                    log = await trigger_incremental_sync(session, access, reason=f"webhook:{event.provider}")
                except PlatformError as exc:
                    # This workspace cannot import now (e.g. no defaultProject); the others still do.
                    logger.info("push_sync_not_started", access_id=access.id, reason=exc.message)
                    continue
                if log is not None:
                    queued += 1
            await events.mark_processed(row_id)
        logger.info(
            "push_webhook_received",
            provider=event.provider,
            event_type=event.event_type,
            delivery_id=event.delivery_id,
            queued=queued,
        )
        return PushOutcome(duplicate=False, queued=queued)

    async def affected_accesses(self, session: AsyncSession, event: PushEvent) -> list[WorkspaceIntegration]:
        repository = PushWebhookRepository(session)
        affected: dict[str, WorkspaceIntegration] = {}
        for webhook in event.webhooks:
            for access in await repository.syncable_accesses(webhook.team_id, webhook.integration_id):
                if _matches(access, event):
                    affected[access.id] = access
        return list(affected.values())


push_service = PushService()
