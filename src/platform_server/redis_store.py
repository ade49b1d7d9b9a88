"""The one way the app reaches Redis: clients that fail fast, and keys that always carry `REDIS_KEY_PREFIX`.

Redis is optional and may be down; every caller has a fallback (limits fail open, the token refresh takes the
database lock). A client that waited or retried on a sick Redis would stall each request before the fallback
applies, so these clients give up after one attempt of at most a second.
"""

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from platform_server.config import Settings

REDIS_TIMEOUT_SECONDS = 1.0
# What a Redis that is down, unreachable or slow raises (redis-py wraps most of it, not all).
REDIS_ERRORS = (RedisError, OSError, TimeoutError)


def connect_redis(settings: Settings) -> Redis | None:
    """A client for `REDIS_URL`, or None when Redis is not configured. Connects lazily: never raises here."""
    if not settings.REDIS_URL:
        return None
    return Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def redis_key(settings: Settings, *parts: str) -> str:
    """Every key the app writes is built here, so that several deployments can share one Redis."""
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))
