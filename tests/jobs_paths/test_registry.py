"""Every task of this layer is registered once, on a queue, with a schedule that cron accepts."""

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter

from platform_server.config import Settings
from platform_server.jobs.registry import TASKS

PERIODIC = {
    "billing.reconcile_waiting_events": timedelta(minutes=15),
    "billing.check_subscriptions": timedelta(hours=1),
    "maintenance.delete_expired": timedelta(minutes=30),
    "integrations.refresh_expiring_tokens": timedelta(minutes=5),
}
DEFERRED = ("email.send", "integrations.refresh_token")


@pytest.mark.parametrize(("name", "interval"), PERIODIC.items())
def test_periodic_tasks_run_at_their_interval(name: str, interval: timedelta) -> None:
    definition = TASKS[name]
    assert definition.periodic is not None
    assert croniter.is_valid(definition.periodic)
    runs = croniter(definition.periodic, datetime(2026, 1, 1, tzinfo=UTC))
    first, second, third = (runs.get_next(datetime) for _ in range(3))
    assert second - first == third - second == interval


def test_the_token_refresh_window_is_longer_than_the_finders_interval() -> None:
    """Otherwise a token could expire between two runs of the finder without being seen as due."""
    window = timedelta(seconds=Settings.model_fields["TOKEN_REFRESH_AHEAD_SECONDS"].default)
    assert window > PERIODIC["integrations.refresh_expiring_tokens"]


@pytest.mark.parametrize("name", DEFERRED)
def test_deferred_tasks_have_no_schedule_and_retry(name: str) -> None:
    definition = TASKS[name]
    assert definition.periodic is None
    assert definition.max_attempts > 1


def test_every_task_of_this_layer_is_registered() -> None:
    assert set(PERIODIC) | set(DEFERRED) <= set(TASKS)
