import asyncio

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from platform_server.log import get_logger

logger = get_logger(__name__)
CHECK_TIMEOUT_SECONDS = 2.0


async def check_database(engine: AsyncEngine) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        logger.warning("readiness_database_failed", error=str(exc))
        return f"error: {type(exc).__name__}"
    return "ok"


async def check_redis(redis: Redis | None) -> str:
    if redis is None:
        return "disabled"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await redis.ping()
    except Exception as exc:
        logger.warning("readiness_redis_failed", error=str(exc))
        return f"error: {type(exc).__name__}"
    return "ok"
