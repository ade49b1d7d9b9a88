"""How long a task waits before its next attempt when the failing party did not say."""

from datetime import timedelta

_FIRST_WAIT = timedelta(seconds=10)
_LONGEST_WAIT = timedelta(minutes=30)


def backoff(attempt: int, told: timedelta | None = None) -> timedelta:
    """`told` (a Retry-After) wins; otherwise 10 s doubling per attempt, at most 30 minutes."""
    if told is not None:
        return told
    doubled: timedelta = _FIRST_WAIT * 2 ** max(attempt - 1, 0)
    return min(doubled, _LONGEST_WAIT)
