import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from platform_server import ids
from platform_server.ids import ID_LENGTH, SnowflakeGenerator, first_id_at, is_valid_id, new_id


def test_ids_are_19_digit_strings_in_time_order() -> None:
    minted = [new_id() for _ in range(5000)]
    assert all(len(value) == ID_LENGTH and value.isdigit() for value in minted)
    assert minted == sorted(minted)
    assert len(set(minted)) == len(minted)


def test_unique_across_threads() -> None:
    results: list[list[str]] = [[] for _ in range(4)]

    def mint(bucket: list[str]) -> None:
        bucket.extend(new_id() for _ in range(2000))

    threads = [threading.Thread(target=mint, args=(bucket,)) for bucket in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [value for bucket in results for value in bucket]
    assert len(set(everything)) == len(everything)


def test_distinct_workers_never_collide_in_the_same_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids.time, "time", lambda: 1_800_000_000.0)
    first, second = SnowflakeGenerator(1), SnowflakeGenerator(2)
    assert not {first.next_id() for _ in range(100)} & {second.next_id() for _ in range(100)}


def test_clock_stepping_backwards_does_not_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([1_800_000_000.010, 1_800_000_000.000, 1_800_000_000.000, 1_800_000_000.020])
    monkeypatch.setattr(ids.time, "time", lambda: next(clock))
    generator = SnowflakeGenerator(7)
    minted = [generator.next_id() for _ in range(4)]
    assert minted == sorted(minted)
    assert len(set(minted)) == 4


def test_sequence_overflow_waits_for_the_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_800_000_000.0]

    def fake_sleep(_seconds: float) -> None:
        now[0] += 0.001

    monkeypatch.setattr(ids.time, "time", lambda: now[0])
    monkeypatch.setattr(ids.time, "sleep", fake_sleep)
    generator = SnowflakeGenerator(3)
    minted = [generator.next_id() for _ in range(4097)]
    assert len(set(minted)) == 4097
    assert minted == sorted(minted)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("7390123456789012345", True),
        ("1", True),
        ("1" * 20, True),
        ("1" * 21, False),
        ("", False),
        ("12a", False),
        ("-1", False),
        ("١٢٣", False),
        (" 1", False),
    ],
)
def test_is_valid_id(value: str, valid: bool) -> None:
    assert is_valid_id(value) is valid


def test_first_id_at_separates_ids_minted_before_and_after() -> None:
    before = new_id()
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    after = new_id()
    boundary = first_id_at(moment)
    assert len(boundary) == ID_LENGTH
    assert before < boundary <= after
    assert first_id_at(moment - timedelta(days=1)) < boundary
