"""POST /api/webhooks/{github,linear,jira}: provider events that queue an incremental import."""

from fastapi import APIRouter, Request

from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.integrations.push.service import GITHUB_HEADERS, JIRA_HEADERS, LINEAR_HEADERS, push_service
from platform_server.limits.dependencies import PublicRateLimit
from platform_server.webhook_events.intake import refused_values_answer_400
from platform_server.webhook_events.schemas import WebhookReceived, raw_event_openapi

router = APIRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    responses=error_responses(400, 401, 429),
    dependencies=[PublicRateLimit],
)


@router.post(
    "/github",
    operation_id="receiveGithubWebhook",
    summary="GitHub repository events (verified with X-Hub-Signature-256)",
    openapi_extra=raw_event_openapi(GITHUB_HEADERS),
)
async def receive_github_webhook(request: Request, session: SessionDep) -> WebhookReceived:
    """HMAC-SHA256 of the raw body with the secret of the repository's registered webhook. `issues` and
    `pull_request` events queue an import of every workspace integration of that repository; `ping` and
    other events are stored and acknowledged. Each `X-GitHub-Delivery` is applied once."""
    state = request.app.state
    event = await push_service.verify_github(session, state.encryptor, await request.body(), request.headers)
    with refused_values_answer_400():
        await push_service.apply(session, event)
    return WebhookReceived()


@router.post(
    "/linear",
    operation_id="receiveLinearWebhook",
    summary="Linear data-change events (verified with Linear-Signature)",
    openapi_extra=raw_event_openapi(LINEAR_HEADERS),
)
async def receive_linear_webhook(request: Request, session: SessionDep) -> WebhookReceived:
    """HMAC-SHA256 (hex) of the raw body with the registered webhook's secret; `webhookTimestamp` must be within
    60 seconds. `Issue` events queue an import of the integration's workspace integrations (those whose
    defaultProject is the issue's team, or unset). Each `Linear-Delivery` is applied once."""
    state = request.app.state
    event = await push_service.verify_linear(session, state.encryptor, await request.body(), request.headers)
    with refused_values_answer_400():
        await push_service.apply(session, event)
    return WebhookReceived()


@router.post(
    "/jira",
    operation_id="receiveJiraWebhook",
    summary="Jira Cloud dynamic webhook events (verified with the app-signed JWT)",
    openapi_extra=raw_event_openapi(JIRA_HEADERS),
)
async def receive_jira_webhook(request: Request, session: SessionDep) -> WebhookReceived:
    """`Authorization: Bearer <JWT>` signed (HS256) with the Jira OAuth app's client secret. Issue
    created/updated/deleted events queue an import of the workspace integrations of the registrations named in
    `matchedWebhookIds` (defaultProject the issue's project, or unset). Each `X-Atlassian-Webhook-Identifier`
    is applied once. Answers 404 while the Jira OAuth app is not configured."""
    state = request.app.state
    event = await push_service.verify_jira(session, state.settings, await request.body(), request.headers)
    with refused_values_answer_400():
        await push_service.apply(session, event)
    return WebhookReceived()
