from fastapi import Request

from platform_server.db import SessionDep
from platform_server.email.service import email_service
from platform_server.email.webhook import SVIX_HEADERS, verify_resend_event
from platform_server.errors import error_responses
from platform_server.limits.dependencies import PublicRateLimit
from platform_server.routing import PrefixedRouter
from platform_server.webhook_events.intake import counted_delivery, refused_values_answer_400
from platform_server.webhook_events.models import WebhookSource
from platform_server.webhook_events.schemas import WebhookReceived, raw_event_openapi

router = PrefixedRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    responses=error_responses(400, 401, 404, 429),
    dependencies=[PublicRateLimit],
)


@router.post(
    "/resend",
    operation_id="receiveResendWebhook",
    summary="Resend delivery events (verified with the Svix signature)",
    openapi_extra=raw_event_openapi(SVIX_HEADERS),
)
async def receive_resend_webhook(request: Request, session: SessionDep) -> WebhookReceived:
    """Signed by Resend (`svix-id`, `svix-timestamp`, `svix-signature`, ±5 minutes). Each `svix-id` is
    applied once; `email.*` events move the email's status forward; a hard bounce or a complaint suppresses
    the address. Answers 404 while `RESEND_WEBHOOK_SECRET` is unset."""
    secret = request.app.state.settings.RESEND_WEBHOOK_SECRET
    headers = {name: request.headers.get(name, "") for name in SVIX_HEADERS}
    with counted_delivery(WebhookSource.resend) as delivery:
        svix_id, event = verify_resend_event(
            secret.get_secret_value() if secret is not None else None, await request.body(), headers
        )
        delivery.event_type = event["type"]
        with refused_values_answer_400():
            delivery.outcome = (await email_service.handle_resend_event(session, svix_id, event)).outcome
    return WebhookReceived()
