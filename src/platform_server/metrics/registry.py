"""Every metric the server exports, defined once, and the one-line calls that record them.

Labels stay bounded whatever clients send: a request is labelled with its route template (never the raw path)
and a known method, a tool call with a catalog tool name, a webhook with the type its signed sender gave. Under
`PROMETHEUS_MULTIPROC_DIR` prometheus-client keeps each value in a per-process file that `/metrics` sums.
"""

from collections.abc import Callable
from enum import StrEnum

from prometheus_client import Counter, Histogram
from starlette.types import Scope

# The label of requests no route matched (unknown paths, and requests refused before routing: 413, 422 text).
UNMATCHED_ROUTE = "unmatched"
# A tool name that is not in the catalog: client-supplied, so never a label of its own.
UNKNOWN_TOOL = "unknown"
UNKNOWN_EVENT_TYPE = "unknown"
OTHER_METHOD = "OTHER"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SYNC_BUCKETS = (0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

HTTP_REQUESTS = Counter(
    "platform_http_requests_total", "HTTP responses by method, route template and status", ("method", "route", "status")
)
HTTP_REQUEST_DURATION = Histogram(
    "platform_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response",
    ("method", "route"),
    buckets=_REQUEST_BUCKETS,
)
TOOL_CALLS = Counter(
    "platform_tool_calls_total",
    "Tool calls by tool, outcome and channel (mcp, rest, assistant)",
    ("tool", "outcome", "channel"),
)
TOOL_CALL_DURATION = Histogram(
    "platform_tool_call_duration_seconds", "Tool call duration, provider request included", ("tool", "outcome")
)
SYNC_RUNS = Counter(
    "platform_sync_runs_total", "Finished sync runs by provider, type and status", ("provider", "sync_type", "status")
)
SYNC_ITEMS = Counter("platform_sync_items_total", "Items written by syncs (committed pages)", ("provider",))
SYNC_DURATION = Histogram(
    "platform_sync_duration_seconds", "Duration of finished sync runs", ("provider",), buckets=_SYNC_BUCKETS
)
WEBHOOK_EVENTS = Counter(
    "platform_webhook_events_total",
    "Webhook deliveries by source, event type and outcome",
    ("source", "type", "outcome"),
)
TOKEN_REFRESHES = Counter(
    "platform_token_refreshes_total", "Provider token refreshes by provider and outcome", ("provider", "outcome")
)
JOB_FAILURES = Counter(
    "platform_job_failures_total",
    "Failed attempts of background jobs, by task and reason (error, retry_later, stalled)",
    ("task", "reason"),
)


class JobFailure(StrEnum):
    """Why an attempt of a job failed: a bounded label, whatever the task raised."""

    # The task raised: retried with backoff up to its attempt limit, then the job is failed.
    error = "error"
    # The task asked to come back later (a provider's rate limit or outage).
    retry_later = "retry_later"
    # Its worker stopped beating (killed, machine gone): the job went back to the queue.
    stalled = "stalled"


def record_tool_call(tool: str | None, outcome: str, channel: str, seconds: float) -> None:
    """`tool` is the catalog name, or None for a name the catalog does not know."""
    name = tool or UNKNOWN_TOOL
    TOOL_CALLS.labels(name, outcome, channel).inc()
    TOOL_CALL_DURATION.labels(name, outcome).observe(seconds)


def record_sync_run(provider: str, sync_type: str, status: str, seconds: float) -> None:
    SYNC_RUNS.labels(provider, sync_type, status).inc()
    SYNC_DURATION.labels(provider).observe(seconds)


def record_synced_items(provider: str, items: int) -> None:
    if items:
        SYNC_ITEMS.labels(provider).inc(items)


def record_webhook_event(source: str, event_type: str | None, outcome: str) -> None:
    WEBHOOK_EVENTS.labels(source, event_type or UNKNOWN_EVENT_TYPE, outcome).inc()


def record_token_refresh(provider: str, outcome: str) -> None:
    TOKEN_REFRESHES.labels(provider, outcome).inc()


def record_job_failure(task: str, reason: JobFailure) -> None:
    JOB_FAILURES.labels(task, reason.value).inc()


def route_label(scope: Scope) -> str:
    """The template of the route that answered (`/api/workspaces/{workspace_id}`), mount prefix included."""
    # A Mount sets root_path to the top-level root_path plus the prefix it matched, and keeps the former in
    # app_root_path; the prefixes of our mounts are fixed paths (no parameters), so they are bounded too.
    root_path: str = scope.get("root_path", "")
    mounted_at = root_path[len(scope.get("app_root_path", root_path)) :]
    route = scope.get("route")
    if route is None:
        # FastAPI records API routes only: a mounted app without routes of its own (static files) leaves none.
        return mounted_at + "/{path}" if mounted_at else UNMATCHED_ROUTE
    path: str = route.path
    return mounted_at + path


RequestObserver = Callable[[Scope, int, float], None]


class RequestMetrics:
    """The per-request hook: counts the response and observes its latency.

    The labelled children are looked up once per (method, route, status) and kept, so a request costs a few
    dict lookups and two increments rather than prometheus-client's label resolution.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def __call__(self, scope: Scope, status: int, seconds: float) -> None:
        method: str = scope["method"]
        if method not in _METHODS:
            method = OTHER_METHOD
        key = (method, route_label(scope), status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                HTTP_REQUESTS.labels(method, key[1], str(status)),
                HTTP_REQUEST_DURATION.labels(method, key[1]),
            )
        series[0].inc()
        series[1].observe(seconds)
