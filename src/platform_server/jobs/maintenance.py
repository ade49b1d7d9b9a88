"""`maintenance.delete_expired`: rows nothing can use any more, deleted in bounded batches.

Each batch is its own short transaction, and each table gets at most CLEANUP_MAX_BATCHES_PER_RUN of them per
run: a backlog drains over several runs instead of holding locks for long. What goes: expired OAuth states,
expired settings-page sessions, OAuth server codes and tokens past their expiry and a grace period, stored
webhook events past their retention (except Stripe events still waiting for their team), finished jobs of
SQLite's queue past JOBS_RETENTION_HOURS, and the tool-call audit past its retention when
TOOL_CALL_RETENTION_DAYS is set.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.db import utcnow
from platform_server.gateway.repository import ToolCallRetentionRepository
from platform_server.ids import first_id_at
from platform_server.integrations.repository import OAuthStateRepository
from platform_server.jobs.registry import JobContext, JobResources, task
from platform_server.jobs.repository import JobRepository
from platform_server.log import get_logger
from platform_server.oauth_server.repository import OAuthRepository
from platform_server.web.repository import WebSessionRepository
from platform_server.webhook_events.repository import WebhookEventRepository

logger = get_logger("platform_server.jobs")

# Deletes up to `limit` rows in the given session and says how many went.
BatchDelete = Callable[[AsyncSession, int], Awaitable[int]]


@task("maintenance.delete_expired", queue="maintenance", max_attempts=3, periodic="*/30 * * * *")
async def delete_expired(ctx: JobContext) -> None:
    settings = ctx.resources.settings
    now = utcnow()
    grant_cutoff = now - timedelta(seconds=settings.OAUTH_EXPIRED_GRANT_GRACE_SECONDS)
    first_kept_event = first_id_at(now - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS))
    job_cutoff = now - timedelta(hours=settings.JOBS_RETENTION_HOURS)
    deletions: dict[str, BatchDelete] = {
        "oauth_states": lambda session, limit: OAuthStateRepository(session).delete_expired_batch(now, limit),
        "web_sessions": lambda session, limit: WebSessionRepository(session).delete_expired_batch(now, limit),
        "oauth_authorization_codes": lambda session, limit: OAuthRepository(session).delete_codes_expired_before(
            grant_cutoff, limit
        ),
        "oauth_tokens": lambda session, limit: OAuthRepository(session).delete_tokens_expired_before(
            grant_cutoff, limit
        ),
        "webhook_events": lambda session, limit: WebhookEventRepository(session).delete_received_before(
            first_kept_event, limit
        ),
        # SQLite's queue (empty on PostgreSQL, where the `jobs.remove_old_jobs` periodic task of worker.py has
        # procrastinate delete its own).
        "jobs": lambda session, limit: JobRepository(session).delete_finished_before(job_cutoff, limit),
    }
    if settings.TOOL_CALL_RETENTION_DAYS is not None:
        first_kept_call = first_id_at(now - timedelta(days=settings.TOOL_CALL_RETENTION_DAYS))
        deletions["tool_calls"] = lambda session, limit: ToolCallRetentionRepository(session).delete_created_before(
            first_kept_call, limit
        )
    counts = {table: await delete_in_batches(ctx.resources, delete) for table, delete in deletions.items()}
    logger.info("expired_rows_deleted", **counts)


async def delete_in_batches(resources: JobResources, delete: BatchDelete) -> int:
    """Runs `delete` batch after batch, each in its own transaction, until one comes back short or the run's
    bound (CLEANUP_MAX_BATCHES_PER_RUN) is reached; returns how many rows went."""
    settings = resources.settings
    deleted = 0
    for _ in range(settings.CLEANUP_MAX_BATCHES_PER_RUN):
        async with resources.sessionmaker() as session, session.begin():
            batch = await delete(session, settings.CLEANUP_BATCH_SIZE)
        deleted += batch
        if batch < settings.CLEANUP_BATCH_SIZE:
            break
    return deleted
