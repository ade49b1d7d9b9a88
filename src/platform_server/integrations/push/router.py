"""POST /api/webhooks/{github,linear,jira}: provider events that queue an incremental import; and the admin's
view of an integration's push webhooks, with the manual setup of one the provider would not let us register."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from inspect import cleandoc

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.dependencies import AdminPrincipal, CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.integrations.push.manual import push_setup_service
from platform_server.integrations.push.schemas import ManualPushSetup, PushWebhookList, PushWebhookRead
from platform_server.integrations.push.service import (
    GITHUB_HEADERS,
    JIRA_HEADERS,
    LINEAR_HEADERS,
    PushEvent,
    PushKeys,
    push_service,
)
from platform_server.limits.dependencies import PublicRateLimit
from platform_server.routing import PrefixedRouter
from platform_server.webhook_events.intake import refused_values_answer_400
from platform_server.webhook_events.schemas import WebhookReceived, raw_event_openapi

router = PrefixedRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    responses=error_responses(400, 401, 429),
    dependencies=[PublicRateLimit],
)

# Authenticates a delivery (raw body and headers) with what the app holds; answers the event or raises 401/404.
Verifier = Callable[[AsyncSession, PushKeys, bytes, Mapping[str, str]], Awaitable[PushEvent]]


@dataclass(frozen=True, slots=True)
class PushEndpoint:
    provider: str
    operation_id: str
    summary: str
    description: str
    headers: tuple[str, ...]
    verify: Verifier


ENDPOINTS = (
    PushEndpoint(
        provider="github",
        operation_id="receiveGithubWebhook",
        summary="GitHub repository events (verified with X-Hub-Signature-256)",
        description="""
        HMAC-SHA256 of the raw body with the secret of the repository's registered webhook. `issues` and
        `pull_request` events queue an import of every workspace integration of that repository; `ping` and
        other events are stored and acknowledged. Each `X-GitHub-Delivery` is applied once.""",
        headers=GITHUB_HEADERS,
        verify=push_service.verify_github,
    ),
    PushEndpoint(
        provider="linear",
        operation_id="receiveLinearWebhook",
        summary="Linear data-change events (verified with Linear-Signature)",
        description="""
        HMAC-SHA256 (hex) of the raw body with the registered webhook's secret; `webhookTimestamp` must be within
        60 seconds. `Issue` events queue an import of the integration's workspace integrations (those whose
        defaultProject is the issue's team, or unset). Each `Linear-Delivery` is applied once.""",
        headers=LINEAR_HEADERS,
        verify=push_service.verify_linear,
    ),
    PushEndpoint(
        provider="jira",
        operation_id="receiveJiraWebhook",
        summary="Jira Cloud dynamic webhook events (verified with the app-signed JWT)",
        description="""
        `Authorization: Bearer <JWT>` signed (HS256) with the Jira OAuth app's client secret. Issue
        created/updated/deleted events queue an import of the workspace integrations of the registrations named in
        `matchedWebhookIds` (defaultProject the issue's project, or unset). Each `X-Atlassian-Webhook-Identifier`
        is applied once. Answers 404 while the Jira OAuth app is not configured.""",
        headers=JIRA_HEADERS,
        verify=push_service.verify_jira,
    ),
)


def _add(endpoint: PushEndpoint) -> None:
    async def receive(request: Request, session: SessionDep) -> WebhookReceived:
        event = await endpoint.verify(session, request.app.state, await request.body(), request.headers)
        with refused_values_answer_400():
            await push_service.apply(session, event)
        return WebhookReceived()

    router.post(
        f"/{endpoint.provider}",
        operation_id=endpoint.operation_id,
        summary=endpoint.summary,
        description=cleandoc(endpoint.description),
        openapi_extra=raw_event_openapi(endpoint.headers),
        name=f"receive_{endpoint.provider}_webhook",
    )(receive)


for _endpoint in ENDPOINTS:
    _add(_endpoint)


setup_router = PrefixedRouter(prefix="/api/integrations", tags=["integrations"])


@setup_router.get(
    "/{integration_id}/push-webhooks",
    operation_id="listPushWebhooks",
    summary="List the integration's push webhooks (pushed syncs)",
    response_model=PushWebhookList,
    responses=error_responses(401, 404),
)
async def list_push_webhooks(
    principal: CurrentPrincipal, session: SessionDep, request: Request, integration_id: str
) -> PushWebhookList:
    """One per GitHub repository, Jira project, or Linear's public teams that a workspace of this integration
    imports from: `active` (registered by us), `unavailable` (the provider refused; `statusReason` says why;
    `manualSetup` tells whether it can be added by hand), or `manual` (set up by hand). Secrets are never
    returned."""
    listed = await push_setup_service.list(session, request.app.state.settings, principal.team_id, integration_id)
    webhooks = [PushWebhookRead.of(webhook, url) for webhook, url in listed]
    return PushWebhookList(push_webhooks=webhooks, count=len(webhooks))


@setup_router.post(
    "/{integration_id}/push-webhooks/{push_webhook_id}/manual-setup",
    operation_id="setUpPushWebhookManually",
    summary="Set up a push webhook by hand: the URL and a new secret, shown once",
    response_model=ManualPushSetup,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def set_up_push_webhook_manually(
    principal: AdminPrincipal, session: SessionDep, request: Request, integration_id: str, push_webhook_id: str
) -> ManualPushSetup:
    """For a GitHub or Linear webhook the provider would not let us register (no admin rights on the
    repository, no `admin` scope on Linear): a fresh signing secret, stored encrypted and answered only here,
    once; add a webhook with this URL and secret at the provider. Calling it again replaces the secret (the
    old one stops verifying). 409 for a webhook that is already registered (`active`); 422 for Jira, whose
    webhooks are signed with the OAuth app's secret and must be registered by the app."""
    state = request.app.state
    setup = await push_setup_service.set_up_manually(
        session, state.settings, state.encryptor, principal.team_id, integration_id, push_webhook_id
    )
    return ManualPushSetup.of(setup)
