"""The in-process store behind the `limits` moving-window strategy, for one event loop.

`limits.aio.storage.MemoryStorage` schedules a sweep of every key after every hit, with a thread hop per key:
on the 2-core reference machine that costs ~180 µs per request with a single user and grows with the number of
users. This store keeps each key's hit times in a sorted list trimmed to the limit, exactly like the Redis list
the same strategy uses, and sweeps idle keys at most once per window, inline.
"""

import time
from bisect import bisect_left
from collections.abc import Callable

from limits.aio.storage import MovingWindowSupport, Storage


class LocalWindowStorage(Storage, MovingWindowSupport):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        # Oldest first; never longer than the largest limit asked for, like the Redis list (LTRIM).
        self._hits: dict[str, list[float]] = {}
        self._next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = self.clock()
        hits = self._hits.setdefault(key, [])
        # The entry that would drop out of a full window: still inside it means no room.
        if len(hits) > limit - amount and hits[-(limit - amount + 1)] >= now - expiry:
            return False
        hits.extend([now] * amount)
        if len(hits) > limit:
            del hits[: len(hits) - limit]
        if now >= self._next_sweep:
            self._sweep(now, expiry)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self.clock()
        hits = self._hits.get(key)
        if not hits:
            return now, 0
        # Inclusive at the boundary, like the acquire check above and the Redis script.
        count = min(len(hits) - bisect_left(hits, now - expiry), limit)
        return (hits[-count], count) if count else (now, 0)

    async def clear(self, key: str) -> None:
        self._hits.pop(key, None)

    async def reset(self) -> int | None:
        count = len(self._hits)
        self._hits.clear()
        return count

    async def check(self) -> bool:
        return True

    # The counter operations belong to the fixed-window strategies, which this store is not used with.
    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("LocalWindowStorage only serves the moving-window strategy")

    async def get(self, key: str) -> int:
        raise NotImplementedError("LocalWindowStorage only serves the moving-window strategy")

    async def get_expiry(self, key: str) -> float:
        raise NotImplementedError("LocalWindowStorage only serves the moving-window strategy")

    def _sweep(self, now: float, expiry: int) -> None:
        cutoff = now - expiry
        for key in [key for key, hits in self._hits.items() if not hits or hits[-1] < cutoff]:
            del self._hits[key]
        self._next_sweep = now + expiry
