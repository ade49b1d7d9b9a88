"""Push webhooks the provider would not let us register: listed for the admin, and set up by hand.

A manual setup gives the webhook a fresh secret, stored encrypted (as registered ones are) and answered once;
deliveries signed with it verify like those of a registered webhook. GitHub finds it by repository; Linear by
the `webhookId` of the first delivery it verifies, which is then remembered. Reconciling leaves a manual
webhook alone: it exists upstream, we just did not create it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.config import Settings
from platform_server.errors import Conflict, ResourceNotFound, ValidationFailed
from platform_server.integrations.models import PushWebhook, PushWebhookStatus
from platform_server.integrations.push.registration import GITHUB_EVENTS, webhook_url
from platform_server.integrations.push.repository import PushWebhookRepository
from platform_server.integrations.push.service import secret_associated_data
from platform_server.integrations.repository import IntegrationRepository
from platform_server.security import Encryptor, random_token

# Jira signs dynamic webhooks with the OAuth app's client secret: only the app can register them.
MANUAL_SETUP_PROVIDERS = {"github": GITHUB_EVENTS, "linear": ["Issue"]}


@dataclass(frozen=True, slots=True)
class ManualSetup:
    webhook: PushWebhook
    url: str
    secret: str
    events: Sequence[str]


class PushSetupService:
    async def list(
        self, session: AsyncSession, settings: Settings, team_id: str, integration_id: str
    ) -> list[tuple[PushWebhook, str]]:
        await self._integration(session, team_id, integration_id)
        webhooks = await PushWebhookRepository(session).of_integration(team_id, integration_id)
        return [(webhook, webhook_url(settings, webhook.provider)) for webhook in webhooks]

    async def set_up_manually(
        self,
        session: AsyncSession,
        settings: Settings,
        encryptor: Encryptor,
        team_id: str,
        integration_id: str,
        push_webhook_id: str,
    ) -> ManualSetup:
        await self._integration(session, team_id, integration_id)
        webhook = await PushWebhookRepository(session).get(team_id, integration_id, push_webhook_id)
        if webhook is None:
            raise ResourceNotFound("Push webhook", push_webhook_id)
        events = MANUAL_SETUP_PROVIDERS.get(webhook.provider)
        if events is None:
            raise ValidationFailed(
                f"A {webhook.provider} webhook cannot be set up by hand: the provider signs it with the OAuth app's "
                "secret, so reconnect with the scope it needs and Platform registers it",
                details={"provider": webhook.provider, "manualSetup": sorted(MANUAL_SETUP_PROVIDERS)},
            )
        if webhook.status == PushWebhookStatus.active:
            raise Conflict(
                "This webhook is registered already; nothing to set up by hand",
                details={"pushWebhookId": webhook.id, "status": webhook.status},
            )
        secret = random_token(32)
        webhook.secret_encrypted = encryptor.encrypt(secret, secret_associated_data(webhook.id))
        webhook.status = PushWebhookStatus.manual
        webhook.status_reason = None
        # Linear's id of the webhook is learned from its first verified delivery.
        webhook.external_id = None
        await session.flush()
        return ManualSetup(webhook, webhook_url(settings, webhook.provider), secret, events)

    @staticmethod
    async def _integration(session: AsyncSession, team_id: str, integration_id: str) -> None:
        if await IntegrationRepository(session, team_id).get(integration_id) is None:
            raise ResourceNotFound("Integration", integration_id)


push_setup_service = PushSetupService()
