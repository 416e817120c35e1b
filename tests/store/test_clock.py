from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.clock import HLC, HybridLogicalClock, utc_day, utc_now, utc_text


def test_utc_text_is_iso_with_milliseconds_and_sorts() -> None:
    a = utc_text(datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC))
    assert a == "2024-01-02T03:04:05.678Z"
    assert utc_text(datetime(2024, 1, 2, 3, 4, 5, 679000, tzinfo=UTC)) > a
    assert utc_now().tzinfo is not None
    assert len(utc_day()) == 10


def test_tick_never_goes_backwards_even_when_the_wall_clock_does() -> None:
    clock = HybridLogicalClock("dev1")
    first = clock.tick(wall_ms=1_000)
    second = clock.tick(wall_ms=500)  # the laptop's clock was set back
    third = clock.tick(wall_ms=500)
    assert first < second < third
    assert HLC.parse(third).wall_ms == 1_000


def test_observe_moves_past_a_remote_stamp() -> None:
    clock = HybridLogicalClock("dev1")
    clock.tick(wall_ms=1_000)
    remote = HybridLogicalClock("dev2").tick(wall_ms=5_000)
    merged = clock.observe(remote, wall_ms=1_001)
    assert merged > remote
    assert clock.tick(wall_ms=1_002) > merged


def test_persisted_value_resumes() -> None:
    clock = HybridLogicalClock("dev1")
    last = clock.tick(wall_ms=9_000)
    resumed = HybridLogicalClock("dev1", last=last)
    assert resumed.tick(wall_ms=1) > last


def test_bad_text_and_node() -> None:
    with pytest.raises(ValueError):
        HLC.parse("yesterday")
    with pytest.raises(ValueError):
        HybridLogicalClock("has space")


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)), max_size=60))
def test_text_order_is_hlc_order(events: list[tuple[bool, int]]) -> None:
    clock, other = HybridLogicalClock("a"), HybridLogicalClock("b")
    seen = []
    for remote, wall in events:
        if remote:
            seen.append(clock.observe(other.tick(wall_ms=wall), wall_ms=wall // 2))
        else:
            seen.append(clock.tick(wall_ms=wall))
    assert seen == sorted(seen)
    assert [HLC.parse(s) for s in seen] == sorted(HLC.parse(s) for s in seen)
    assert len(set(seen)) == len(seen)
