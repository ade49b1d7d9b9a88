from fastapi import Request, Response

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.billing.schemas import BillingRead
from platform_server.billing.service import billing_service
from platform_server.billing.webhook import verify_stripe_event
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.limits.dependencies import PublicRateLimit
from platform_server.limits.service import plan_changed
from platform_server.routing import PrefixedRouter, PreSolvedRoute
from platform_server.sqlite_inline import PreparedTransaction
from platform_server.webhook_events.intake import counted_delivery, refused_values_answer_400
from platform_server.webhook_events.models import WebhookSource
from platform_server.webhook_events.schemas import WebhookReceived, raw_event_openapi, webhook_received_response

router = PrefixedRouter(prefix="/api", tags=["billing"], route_class=PreSolvedRoute)


@router.get(
    "/billing",
    operation_id="getBilling",
    summary="The team's plan and subscription state",
    responses=error_responses(401),
)
async def get_billing(principal: CurrentPrincipal, session: SessionDep) -> BillingRead:
    team = await billing_service.get_billing(session, principal)
    return BillingRead(
        plan=team.plan,
        status=team.billing_status,
        current_period_end=team.plan_period_end,
        cancel_at_period_end=team.cancel_at_period_end,
    )


@router.post(
    "/webhooks/stripe",
    operation_id="receiveStripeWebhook",
    summary="Stripe events (verified with the Stripe-Signature header)",
    tags=["webhooks"],
    response_model=WebhookReceived,
    responses=error_responses(400, 401, 404, 429, 503),
    openapi_extra=raw_event_openapi(("Stripe-Signature",)),
    dependencies=[PublicRateLimit],
)
async def receive_stripe_webhook(request: Request) -> Response:
    """Verified on the raw body against every secret in `STRIPE_WEBHOOK_SECRET` (rotation), 300 s tolerance.
    Each event id is applied once; a redelivery answers `{"received": true}` and changes nothing. Subscription
    events set the team's plan; `invoice.payment_failed` marks it past due and emails its owners. Other events
    are stored and acknowledged. Answers 404 while no secret is configured."""
    # The signature header is read here rather than declared as a parameter (it is documented by hand above):
    # a route without header parameters is solved from a plan (PreSolvedRoute), not by FastAPI on every event.
    state = request.app.state
    with counted_delivery(WebhookSource.stripe) as delivery:
        event = verify_stripe_event(
            state.settings.STRIPE_WEBHOOK_SECRET, await request.body(), request.headers.get("stripe-signature")
        )
        delivery.event_type = event["type"]
        # This route owns its transaction, unlike SessionDep routes: the plan change may only be announced after
        # the commit, or a request in between could cache the old plan again. Prepared statements only: the
        # ORM's session would cost more than the event's statements.
        with refused_values_answer_400():
            async with PreparedTransaction.begin(state.engine) as transaction:
                outcome = await billing_service.handle_stripe_event(transaction, state.settings, event)
        delivery.outcome = outcome.outcome
    for team_id in outcome.plan_changed_team_ids:
        await plan_changed(state, team_id)
    return webhook_received_response()
