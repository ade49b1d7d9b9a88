"""Wire shapes of an integration's push webhooks: never a secret, except in the one answer that creates it."""

from typing import Literal

from pydantic import Field

from platform_server.integrations.models import PushWebhook
from platform_server.integrations.push.manual import MANUAL_SETUP_PROVIDERS, ManualSetup
from platform_server.schemas import Schema


class PushWebhookRead(Schema):
    id: str
    provider: str
    target: str = Field(description="`owner/repo` (GitHub), `all-public-teams` (Linear), a project key (Jira)")
    status: Literal["active", "unavailable", "manual"]
    status_reason: str | None = None
    url: str = Field(description="Where the provider sends the events")
    manual_setup: bool = Field(description="Whether this webhook can be set up by hand (GitHub, Linear)")

    @classmethod
    def of(cls, webhook: PushWebhook, url: str) -> "PushWebhookRead":
        return cls(
            id=webhook.id,
            provider=webhook.provider,
            target=webhook.target,
            status=webhook.status,
            status_reason=webhook.status_reason,
            url=url,
            manual_setup=webhook.provider in MANUAL_SETUP_PROVIDERS,
        )


class PushWebhookList(Schema):
    push_webhooks: list[PushWebhookRead]
    count: int


class ManualPushSetup(PushWebhookRead):
    secret: str = Field(description="The webhook's signing secret: shown in this answer only, stored encrypted")
    content_type: str = Field(description="The payload format to choose at the provider")
    events: list[str] = Field(description="The events to send")

    @classmethod
    def of(cls, setup: ManualSetup) -> "ManualPushSetup":  # type: ignore[override]
        read = PushWebhookRead.of(setup.webhook, setup.url)
        return cls(**read.model_dump(), secret=setup.secret, content_type="application/json", events=list(setup.events))
