"""The `/metrics` exposition: who may read it, and what a scrape collects.

One process: the default registry (with the process and runtime collectors). Several processes sharing
`PROMETHEUS_MULTIPROC_DIR` (`serve --workers N`, workers on the same machine): the sum of every process's files,
whichever process answers the scrape. The job queue's depth and age are read at scrape time from the source the
job layer registers, so they are the queue's, not a process's.
"""

import asyncio
import hmac
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.config import Settings
from platform_server.errors import NotFound, Unauthorized
from platform_server.jobs.queue import queue_stats
from platform_server.log import get_logger
from platform_server.metrics.multiprocess import multiprocess_dir

# A scrape must answer even when the job store is slow: the queue gauges are then left out of that scrape.
QUEUE_STATS_TIMEOUT_SECONDS = 5.0

logger = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class QueueStats:
    queued: int
    oldest_age_seconds: float


QueueStatsSource = Callable[[], Mapping[str, QueueStats] | Awaitable[Mapping[str, QueueStats]]]


class _QueueCollector:
    def __init__(self, stats: Mapping[str, QueueStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        queued = GaugeMetricFamily("platform_jobs_queued", "Jobs waiting to run, by queue", labels=("queue",))
        oldest = GaugeMetricFamily(
            "platform_job_oldest_age_seconds", "Age of the oldest job waiting, by queue", labels=("queue",)
        )
        for queue, stats in sorted(self._stats.items()):
            queued.add_metric((queue,), stats.queued)
            oldest.add_metric((queue,), stats.oldest_age_seconds)
        yield queued
        yield oldest


class _Scrape:
    """Several collectors read as one registry by `generate_latest`."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self._collectors = tuple(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


class MetricsExporter:
    """Lives on `app.state.metrics`; the job layer registers its queue statistics here."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.METRICS_ENABLED
        token = settings.METRICS_TOKEN.get_secret_value().strip() if settings.METRICS_TOKEN is not None else ""
        self._token = token.encode() or None
        directory = multiprocess_dir()
        self._process_metrics: Collector = (
            # prometheus-client leaves this constructor unannotated.
            MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]
            if directory is not None
            else REGISTRY
        )
        self._queue_stats: QueueStatsSource | None = None

    def register_queue_stats(self, source: QueueStatsSource | None) -> None:
        """`source` answers {queue name: QueueStats}, sync or async; None stops reporting the queue gauges."""
        self._queue_stats = source

    def authorize(self, authorization: str | None) -> None:
        if not self.enabled:
            raise NotFound("Metrics are disabled: set METRICS_ENABLED=true to serve /metrics")
        if self._token is None:
            return
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), self._token):
            raise Unauthorized("A valid metrics token is required: Authorization: Bearer <METRICS_TOKEN>")

    async def exposition(self) -> bytes:
        collectors: list[Collector] = [self._process_metrics]
        stats = await self._read_queue_stats()
        if stats is not None:
            collectors.append(_QueueCollector(stats))
        # Reading the per-process files is file I/O: off the event loop.
        return await asyncio.to_thread(generate_latest, _Scrape(collectors))

    async def _read_queue_stats(self) -> Mapping[str, QueueStats] | None:
        source = self._queue_stats
        if source is None:
            return None
        try:
            async with asyncio.timeout(QUEUE_STATS_TIMEOUT_SECONDS):
                stats = source()
                return await stats if inspect.isawaitable(stats) else stats
        except Exception as exc:
            logger.warning("metrics_queue_stats_failed", error=type(exc).__name__)
            return None


def job_queue_source(sessionmaker: async_sessionmaker[AsyncSession]) -> QueueStatsSource:
    """The job layer's queues as the gauges read them: waiting jobs and the oldest one's age, per queue."""

    async def read() -> Mapping[str, QueueStats]:
        stats = await queue_stats(sessionmaker)
        return {queue: QueueStats(queued, age) for queue, (queued, age) in stats.items()}

    return read
