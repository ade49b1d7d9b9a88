"""Scheduled imports: a workspace integration with `sync_interval_minutes` is imported every interval.

Each schedule runs at its own phase within the interval, taken from a hash of its access id, so a thousand
hourly schedules spread over the hour instead of all firing on the minute; a few seconds of random jitter on
top keep two schedules that hash close apart. The `sync.schedule_due` task runs every minute, takes the due
rows (an index on `next_sync_at`), enqueues each import and moves `next_sync_at` on in the same transaction,
so a crash between the two is impossible. A schedule whose integration cannot sync (disconnected, disabled)
is skipped with its reason and retried after a growing pause, not every minute.
"""

import hashlib
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.db import utcnow
from platform_server.errors import PlatformError, ValidationFailed
from platform_server.integrations.models import WorkspaceIntegration
from platform_server.integrations.sync.pairs import IMPORTERS
from platform_server.integrations.sync.schedule_repository import ScheduleRepository
from platform_server.integrations.sync.triggers import trigger_incremental_sync
from platform_server.jobs.registry import JobContext, task
from platform_server.log import get_logger

logger = get_logger(__name__)

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Random jitter on top of the phase: at most this, and never more than a twentieth of the interval.
MAX_RANDOM_JITTER = timedelta(seconds=30)
# One run of the due task handles at most this many schedules; the rest are due again a minute later.
DUE_BATCH = 500
# A skipped schedule waits its interval times 2^skips (at most 2^6), and never longer than a day.
MAX_SKIP_BACKOFF = timedelta(days=1)
_SKIP_BACKOFF_STEPS = 6
SCHEDULE_REASON = "schedule"


def phase(access_id: str, interval: timedelta) -> timedelta:
    """Where in each interval this schedule fires: the same for the same access id on every machine."""
    digest = int.from_bytes(hashlib.sha256(access_id.encode()).digest()[:8], "big")
    return timedelta(seconds=digest % int(interval.total_seconds()))


def next_due(access_id: str, interval: timedelta, after: datetime, jitter: timedelta = timedelta(0)) -> datetime:
    """The first moment after `after` at this schedule's phase, plus `jitter`."""
    offset = phase(access_id, interval)
    elapsed = after - _EPOCH - offset
    slots = elapsed // interval + 1
    return _EPOCH + offset + slots * interval + jitter


def random_jitter(interval: timedelta) -> timedelta:
    bound = min(MAX_RANDOM_JITTER, interval / 20)
    # Spreading load, not a secret: the standard generator is the right tool.
    return timedelta(seconds=random.uniform(0, bound.total_seconds()))  # noqa: S311


def apply_interval(access: WorkspaceIntegration, minutes: int | None, now: datetime | None = None) -> None:
    """Sets (or clears, with None) the schedule; the first run comes at its phase in the next interval."""
    if minutes is not None and not any(name == access.provider for name, _ in IMPORTERS):
        raise ValidationFailed(
            f"{access.provider} has nothing to import, so it cannot have a sync schedule",
            details={
                "fields": [{"field": "body.syncIntervalMinutes", "message": "nothing to import", "type": "value_error"}]
            },
        )
    access.sync_interval_minutes = minutes
    access.schedule_skips = 0
    access.schedule_skip_reason = None
    if minutes is None:
        access.next_sync_at = None
        return
    interval = timedelta(minutes=minutes)
    access.next_sync_at = next_due(access.id, interval, now or utcnow(), random_jitter(interval))


def skip_backoff(interval: timedelta, skips: int) -> timedelta:
    backoff: timedelta = interval * 2 ** min(skips, _SKIP_BACKOFF_STEPS)
    return min(backoff, MAX_SKIP_BACKOFF)


async def run_due_schedules(session: AsyncSession, now: datetime | None = None) -> int:
    """Enqueues every due schedule's import in `session`'s transaction; returns how many were enqueued."""
    now = now or utcnow()
    enqueued = 0
    for access in await ScheduleRepository(session).due(now, DUE_BATCH):
        assert access.sync_interval_minutes is not None  # due() selects scheduled rows only
        interval = timedelta(minutes=access.sync_interval_minutes)
        try:
            queued = await trigger_incremental_sync(session, access, reason=SCHEDULE_REASON)
        except PlatformError as exc:
            _skip(access, interval, now, exc.message)
            continue
        access.schedule_skips = 0
        access.schedule_skip_reason = None
        access.next_sync_at = next_due(access.id, interval, now, random_jitter(interval))
        if queued is not None:
            enqueued += 1
    await session.flush()
    return enqueued


def _skip(access: WorkspaceIntegration, interval: timedelta, now: datetime, reason: str) -> None:
    access.schedule_skips += 1
    access.schedule_skip_reason = reason
    access.next_sync_at = now + skip_backoff(interval, access.schedule_skips)
    logger.info(
        "scheduled_sync_skipped",
        access_id=access.id,
        reason=reason,
        skips=access.schedule_skips,
        retry_at=access.next_sync_at.isoformat(),
    )


@task("sync.schedule_due", queue="schedule", max_attempts=1, periodic="* * * * *")
async def schedule_due(ctx: JobContext) -> None:
    async with ctx.resources.sessionmaker() as session, session.begin():
        enqueued = await run_due_schedules(session)
    if enqueued:
        logger.info("scheduled_syncs_enqueued", count=enqueued)
