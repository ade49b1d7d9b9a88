"""Snowflake-style IDs: 64-bit, time-ordered, unique across processes, rendered as decimal strings.

Layout: 41 bits of milliseconds since the Twitter epoch, 10 bits of worker id, 12 bits of sequence. With
that epoch every ID minted between 2017 and 2080 has exactly 19 digits, so string order is time order.
"""

import os
import secrets
import threading
import time
from datetime import datetime

_EPOCH_MS = 1_288_834_974_657
_WORKER_BITS = 10
_SEQUENCE_BITS = 12
_MAX_SEQUENCE = (1 << _SEQUENCE_BITS) - 1
ID_LENGTH = 19


class SnowflakeGenerator:
    def __init__(self, worker_id: int) -> None:
        self._worker_id = worker_id & ((1 << _WORKER_BITS) - 1)
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now_ms = int(time.time() * 1000)
            # A clock that steps backwards must not produce an ID that was already handed out.
            now_ms = max(now_ms, self._last_ms)
            if now_ms == self._last_ms:
                self._sequence = (self._sequence + 1) & _MAX_SEQUENCE
                if self._sequence == 0:
                    now_ms = self._wait_next_ms(now_ms)
            else:
                self._sequence = 0
            self._last_ms = now_ms
            return (
                ((now_ms - _EPOCH_MS) << (_WORKER_BITS + _SEQUENCE_BITS))
                | (self._worker_id << _SEQUENCE_BITS)
                | self._sequence
            )

    @staticmethod
    def _wait_next_ms(last_ms: int) -> int:
        now_ms = int(time.time() * 1000)
        while now_ms <= last_ms:
            time.sleep(0.0001)
            now_ms = int(time.time() * 1000)
        return now_ms


def _worker_id() -> int:
    # Random bits mixed with the pid: processes on one host, and hosts, get distinct workers with
    # high probability without any coordination.
    return (os.getpid() ^ secrets.randbits(_WORKER_BITS)) & ((1 << _WORKER_BITS) - 1)


_generator = SnowflakeGenerator(_worker_id())


def new_id() -> str:
    return str(_generator.next_id())


def first_id_at(moment: datetime) -> str:
    """The smallest id minted at `moment`: every row created before it has a smaller id (time-ordered ids let
    retention use the primary key instead of an index on a timestamp)."""
    milliseconds = int(moment.timestamp() * 1000)
    return str(max(milliseconds - _EPOCH_MS, 0) << (_WORKER_BITS + _SEQUENCE_BITS)).zfill(ID_LENGTH)


def is_valid_id(value: str) -> bool:
    return len(value) <= 20 and value.isascii() and value.isdigit()
