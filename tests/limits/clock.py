import time


class FakeClock:
    """Wall-clock seconds that only move when told to, for the in-process limiter's window."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
