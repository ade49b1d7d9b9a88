"""Jobs of the pushed-sync path: Jira's dynamic webhooks lapse 30 days after registration unless refreshed."""

from datetime import timedelta
from itertools import groupby

import httpx

from platform_server.db import utcnow
from platform_server.integrations.providers.client import ProviderError
from platform_server.integrations.push.registration import push_registration
from platform_server.integrations.push.repository import PushWebhookRepository
from platform_server.jobs.registry import JobContext, task
from platform_server.log import get_logger

logger = get_logger(__name__)

# Refreshed a week before they lapse, so a few failed days still leave time.
JIRA_REFRESH_AHEAD = timedelta(days=7)


@task("push.refresh_jira_webhooks", queue="schedule", max_attempts=3, periodic="17 3 * * *")
async def refresh_jira_webhooks(ctx: JobContext) -> None:
    resources = ctx.resources
    async with resources.sessionmaker() as session, session.begin():
        expiring = await PushWebhookRepository(session).jira_expiring(utcnow() + JIRA_REFRESH_AHEAD)
        for _, group in groupby(expiring, key=lambda row: row[1].id):
            rows = list(group)
            integration = rows[0][1]
            client = resources.token_manager.client_for(integration)
            try:
                await push_registration.refresh_jira(session, client, [webhook for webhook, _ in rows])
            except (ProviderError, httpx.HTTPError) as exc:
                logger.warning("jira_webhook_refresh_failed", integration_id=integration.id, error=type(exc).__name__)
