"""Wire shapes of an integration's push webhooks: never a secret, except in the one answer that creates it."""

from typing import Literal

from pydantic import Field

from platform_server.integrations.models import PushWebhook
from platform_server.integrations.push.manual import MANUAL_SETUP_PROVIDERS, ManualSetup
from platform_server.schemas import Schema


class PushWebhookRead(Schema):
    id: str = Field(examples=["1701234567895"])
    provider: str = Field(examples=["github"])
    target: str = Field(
        description="`owner/repo` (GitHub), `all-public-teams` (Linear), a project key (Jira)",
        examples=["acme/product"],
    )
    status: Literal["active", "unavailable", "manual"] = Field(
        description="`active`: registered by Platform; `unavailable`: the provider refused (see statusReason); "
        "`manual`: set up by hand",
        examples=["unavailable"],
    )
    status_reason: str | None = Field(
        default=None, examples=["GitHub: Not Found (HTTP 404)"], description="Why the provider refused"
    )
    url: str = Field(
        description="Where the provider sends the events", examples=["https://platform.example.com/api/webhooks/github"]
    )
    manual_setup: bool = Field(
        description="Whether this webhook can be set up by hand (GitHub, Linear)", examples=[True]
    )

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
    count: int = Field(examples=[1])


class ManualPushSetup(PushWebhookRead):
    secret: str = Field(
        description="The webhook's signing secret: shown in this answer only, stored encrypted",
        examples=["3q2-7wEAAAC8Zr1hYbGx0kQw5a1nT0pE"],
    )
    content_type: str = Field(description="The payload format to choose at the provider", examples=["application/json"])
    events: list[str] = Field(description="The events to send", examples=[["issues", "pull_request"]])

    @classmethod
    def of(cls, setup: ManualSetup) -> "ManualPushSetup":  # type: ignore[override]
        read = PushWebhookRead.of(setup.webhook, setup.url)
        return cls(**read.model_dump(), secret=setup.secret, content_type="application/json", events=list(setup.events))
