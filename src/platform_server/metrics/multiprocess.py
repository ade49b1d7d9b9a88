"""Metrics across worker processes: each process writes its values to files in one directory, /metrics sums them.

prometheus-client chooses this mode when PROMETHEUS_MULTIPROC_DIR is set before it is imported, so the directory
is settled by `serve` before uvicorn starts its workers. Counters and histograms of a worker that exited stay in
the sums (a counter must never go down), so no file is removed when one exits; `mark_process_dead` would only
drop live gauges, and every gauge here is read from the job store at scrape time instead.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


@contextmanager
def worker_metrics_directory(workers: int, metrics_enabled: bool) -> Iterator[str | None]:
    """The directory the workers share (None for one process): the operator's, or a fresh one made for this run
    and removed at its end. An operator's directory must be emptied between runs, as prometheus-client requires."""
    configured = multiprocess_dir()
    if configured is not None or workers < 2 or not metrics_enabled:
        yield configured
        return
    directory = tempfile.mkdtemp(prefix="platform-metrics-")
    os.environ[MULTIPROC_DIR_ENV] = directory
    try:
        yield directory
    finally:
        del os.environ[MULTIPROC_DIR_ENV]
        shutil.rmtree(directory, ignore_errors=True)
