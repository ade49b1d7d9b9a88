"""The in-process store under the `limits` moving-window strategy: an exact sliding log."""

from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter

from platform_server.limits.storage import LocalWindowStorage
from tests.limits.clock import FakeClock


def limiter(clock: FakeClock) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(LocalWindowStorage(clock))


async def test_allows_exactly_the_limit_then_refuses() -> None:
    clock = FakeClock()
    window, item = limiter(clock), RateLimitItemPerMinute(3)
    assert [await window.hit(item, "u", "1") for _ in range(4)] == [True, True, True, False]
    stats = await window.get_window_stats(item, "u", "1")
    assert stats.remaining == 0
    assert stats.reset_time == clock.now + 60


async def test_no_burst_at_window_edges() -> None:
    """Half the limit, then the other half 30 s later: the first half frees slots only 60 s after it was used."""
    clock = FakeClock()
    window, item = limiter(clock), RateLimitItemPerMinute(4)
    assert all([await window.hit(item, "u", "1") for _ in range(2)])
    clock.advance(30)
    assert all([await window.hit(item, "u", "1") for _ in range(2)])
    clock.advance(29)
    assert not await window.hit(item, "u", "1")
    clock.advance(1.5)
    assert [await window.hit(item, "u", "1") for _ in range(3)] == [True, True, False]


async def test_keys_are_independent() -> None:
    window, item = limiter(FakeClock()), RateLimitItemPerMinute(1)
    assert await window.hit(item, "u", "1")
    assert await window.hit(item, "u", "2")
    assert not await window.hit(item, "u", "1")


async def test_idle_keys_are_swept() -> None:
    clock = FakeClock()
    storage = LocalWindowStorage(clock)
    window, item = MovingWindowRateLimiter(storage), RateLimitItemPerMinute(5)
    for user in range(50):
        await window.hit(item, "u", str(user))
    clock.advance(61)
    await window.hit(item, "u", "active")
    assert await storage.reset() == 1


async def test_test_does_not_consume() -> None:
    window, item = limiter(FakeClock()), RateLimitItemPerMinute(1)
    assert await window.test(item, "u", "1")
    assert await window.test(item, "u", "1")
    assert await window.hit(item, "u", "1")
    assert not await window.test(item, "u", "1")
