import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from platform_server.limits.service import plan_changed
from platform_server.models import Team
from tests.conftest import Member

MakeMember = Callable[..., Coroutine[Any, Any, Member]]


@pytest.fixture
async def key_prefix(redis_url: str) -> AsyncIterator[str]:
    """A Redis namespace of this test's own, removed afterwards, so parallel runs never share a count."""
    prefix = f"test-limits-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def rate_headers(response: httpx.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["x-ratelimit-limit"]),
        int(response.headers["x-ratelimit-remaining"]),
        int(response.headers["x-ratelimit-reset"]),
    )


async def set_plan(app: Any, team_id: str, plan: str) -> None:
    """What the billing webhook does: commit the new plan, then tell the limiter."""
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(update(Team).where(Team.id == team_id).values(plan=plan))
    await plan_changed(app.state, team_id)
