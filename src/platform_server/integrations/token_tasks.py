"""Tokens refreshed before they expire, so that no request or sync waits for a refresh (or finds the grant gone
because the refresh token was only used after its own expiry)."""

from datetime import timedelta

from platform_server.db import utcnow
from platform_server.integrations.providers.client import IntegrationExpired, ProviderUnavailable
from platform_server.integrations.repository import TokenExpiryRepository
from platform_server.jobs.backoff import backoff
from platform_server.jobs.queue import AlreadyEnqueued, defer
from platform_server.jobs.registry import JobContext, RetryLater, task
from platform_server.log import get_logger

logger = get_logger("platform_server.integrations")

REFRESH_TOKEN_TASK = "integrations.refresh_token"  # noqa: S105 (a task name)
# More would be due within one window than a few minutes of refreshes take: the rest waits for the next run.
_INTEGRATIONS_PER_RUN = 1000


@task("integrations.refresh_expiring_tokens", queue="maintenance", max_attempts=1, periodic="*/5 * * * *")
async def refresh_expiring_tokens(ctx: JobContext) -> None:
    """Defers one refresh per integration whose token expires within TOKEN_REFRESH_AHEAD_SECONDS."""
    resources = ctx.resources
    due_before = utcnow() + timedelta(seconds=resources.settings.TOKEN_REFRESH_AHEAD_SECONDS)
    async with resources.sessionmaker() as session, session.begin():
        integration_ids = await TokenExpiryRepository(session).expiring_before(due_before, _INTEGRATIONS_PER_RUN)
        deferred = 0
        for integration_id in integration_ids:
            try:
                # One waiting refresh per integration: a slow queue never piles up copies.
                await defer(
                    session,
                    REFRESH_TOKEN_TASK,
                    queueing_lock=f"{REFRESH_TOKEN_TASK}:{integration_id}",
                    integration_id=integration_id,
                )
            except AlreadyEnqueued:
                continue
            deferred += 1
    logger.info("expiring_tokens_found", due=len(integration_ids), deferred=deferred)


@task(REFRESH_TOKEN_TASK, queue="integrations", max_attempts=4)
async def refresh_token(ctx: JobContext, integration_id: str) -> None:
    """The token manager's own refresh (single-flight across processes, rotation stored before it returns),
    for the main token and Slack's user token. A refused grant marks the integration expired there."""
    ahead = timedelta(seconds=ctx.resources.settings.TOKEN_REFRESH_AHEAD_SECONDS)
    manager = ctx.resources.token_manager
    try:
        await manager.refresh(integration_id, rejected_token=None, margin=ahead)
        await manager.refresh(integration_id, rejected_token=None, user=True, margin=ahead)
    except IntegrationExpired as expired:
        logger.info("integration_not_refreshed", integration_id=integration_id, reason=str(expired))
    except ProviderUnavailable as unavailable:
        raise RetryLater(str(unavailable), backoff(ctx.attempt)) from unavailable
