"""Stripe reconciliation: events left waiting for their team, and subscriptions whose webhooks went missing."""

import time
from datetime import timedelta

import stripe

from platform_server.billing.service import billing_service
from platform_server.billing.stripe_api import subscription_reader
from platform_server.jobs.maintenance import delete_in_batches
from platform_server.jobs.registry import JobContext, JobResources, task
from platform_server.limits.limiter import STORE_ERRORS
from platform_server.limits.plans import PlanDirectory
from platform_server.log import get_logger

logger = get_logger("platform_server.billing")

# Per run: each customer, and each page of dropped events, in its own short transaction.
_CUSTOMERS_PER_RUN = 500
_TEAMS_PER_PAGE = 100


@task("billing.reconcile_waiting_events", queue="maintenance", max_attempts=3, periodic="*/15 * * * *")
async def reconcile_waiting_events(ctx: JobContext) -> None:
    """Applies events waiting for a customer that a team is bound to by now; drops those waiting too long."""
    resources = ctx.resources
    settings = resources.settings
    async with resources.sessionmaker() as session, session.begin():
        customers = await billing_service.waiting_customers_with_team(session, _CUSTOMERS_PER_RUN)
    changed: list[str] = []
    for customer_id in customers:
        async with resources.sessionmaker() as session, session.begin():
            changed += await billing_service.apply_waiting_for_bound_customer(session, settings, customer_id)
    cutoff = int(time.time() - timedelta(days=settings.STRIPE_PENDING_EVENT_RETENTION_DAYS).total_seconds())
    dropped = await delete_in_batches(
        resources,
        lambda session, limit: billing_service.drop_waiting_created_before(session, cutoff, limit),
    )
    await _announce_plan_changes(resources, changed)
    logger.info("stripe_waiting_events_reconciled", customers=len(customers), dropped=dropped)


@task("billing.check_subscriptions", queue="maintenance", max_attempts=3, periodic="23 * * * *")
async def check_subscriptions(ctx: JobContext) -> None:
    """Reads every Pro team's subscription from Stripe's API (only with STRIPE_API_KEY) and corrects drift."""
    resources = ctx.resources
    async with subscription_reader(resources.settings) as reader:
        if reader is None:
            return
        checked, after = 0, ""
        changed: list[str] = []
        while True:
            async with resources.sessionmaker() as session:
                page = await billing_service.pro_team_subscriptions(session, after, _TEAMS_PER_PAGE)
            for team_id, subscription_id in page:
                try:
                    subscription = await reader.subscription(subscription_id)
                except stripe.StripeError as error:
                    logger.warning("stripe_subscription_unreadable", team_id=team_id, error=type(error).__name__)
                    continue
                checked += 1
                if subscription is None:
                    logger.warning("stripe_subscription_missing", team_id=team_id, subscription_id=subscription_id)
                    continue
                async with resources.sessionmaker() as session, session.begin():
                    changed += await billing_service.correct_subscription(
                        session, resources.settings, subscription, int(time.time())
                    )
            if len(page) < _TEAMS_PER_PAGE:
                break
            after = page[-1][0]
    await _announce_plan_changes(resources, changed)
    logger.info("stripe_subscriptions_checked", checked=checked, plan_changes=len(changed))


async def _announce_plan_changes(resources: JobResources, team_ids: list[str]) -> None:
    """Through Redis every process sees the new plan on its next request; without Redis the serving process's
    cached plan expires within a minute (limits.plans)."""
    if resources.redis is None:
        return
    plans = PlanDirectory(resources.sessionmaker, resources.redis, resources.settings)
    for team_id in team_ids:
        try:
            await plans.publish(team_id, await plans.load(team_id))
        except STORE_ERRORS as error:
            logger.warning("plan_change_not_published", team_id=team_id, error=type(error).__name__)
