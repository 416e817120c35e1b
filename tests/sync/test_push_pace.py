"""Pushes sized to the link, and a sync that downloads nothing a field laptop already has.

The link is bench/link.py's shaping proxy (one shared uplink and downlink of a given
bandwidth, a round trip of latency, every open connection reset on a timer), scaled down so a
test takes seconds: a fixed batch that takes longer than the link stays up is cut forever;
the sized pushes finish in one `fieldkit sync`, smaller after each cut.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _client_kit import answers_of, capture, field_device, project
from conftest import RunningServer

from fieldkit import exchange
from fieldkit.errors import SyncError
from fieldkit.exchange._pace import FIRST_BYTES, MIN_BYTES, TARGET_SECONDS, Pace
from fieldkit.exchange.transfer import PUSH_BATCH
from fieldkit.store import Workspace
from sync.client import Retry

# Appended, not prepended: bench/sync.py must not hide the sync package.
sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))
from link import ShapingProxy  # noqa: E402

FAST_RETRY = Retry(attempts=6, base=0.05, cap=0.2)


def _port(server: RunningServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


class _Batches:
    """The size of each push that went through, from sync's progress reports."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._done = 0

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if phase == "push" and done > self._done:
            self.sizes.append(done - self._done)
            self._done = done


@pytest.fixture
def laptops(tmp_path: Path, sync_server: RunningServer) -> Iterator[tuple[Workspace, ...]]:
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    other = field_device(tmp_path, sync_server.url, coordinator, name="other")
    yield coordinator, field, other
    for ws in (coordinator, field, other):
        ws.close()


def test_sized_pushes_finish_through_a_cutting_link(
    sync_server: RunningServer, laptops: tuple[Workspace, ...]
) -> None:
    """128 kbit/s up, 200 ms round trip, every connection reset every 4 s: 400 records (about
    20 s of uplink) go in one sync, in pushes that shrink after a cut and grow after success;
    what the server acknowledged is not sent again."""
    coordinator, field, _ = laptops
    ids = capture(field, 400)
    exchange.seal_pending(field)
    total_bytes = sum(len(i.envelope) for i in field.records.unsent(limit=10**9))
    batches = _Batches()
    shaped = {"up_bps": 128_000, "down_bps": 256_000, "rtt": 0.2, "cut_every": 4.0}
    with ShapingProxy(_port(sync_server), **shaped) as link:
        summary = exchange.sync(field, server=link.url, progress=batches, retry=FAST_RETRY)
    assert summary.waiting == 0 and not summary.rejected and not summary.conflicts
    assert summary.sent + summary.already_on_server == len(ids)
    assert link.figures.cuts >= 3 and summary.push_cuts >= 2, (link.figures, summary)
    # Small at first, never one batch of everything; larger again after going through.
    assert batches.sizes[0] * total_bytes // len(ids) <= FIRST_BYTES * 1.1
    assert max(batches.sizes) < PUSH_BATCH
    assert any(b > a for a, b in zip(batches.sizes, batches.sizes[1:], strict=False))
    # Resent only what was in flight at a cut (two pushes at most each time), never what
    # came back acknowledged: the uplink carried little more than the records once.
    assert summary.already_on_server <= 2 * max(batches.sizes) * summary.push_cuts
    assert link.figures.up < 1.6 * _ideal_up(sync_server, field, coordinator)
    exchange.pull(coordinator)
    assert set(answers_of(coordinator)) >= set(ids)


def _ideal_up(server: RunningServer, field: Workspace, coordinator: Workspace) -> int:
    """Bytes up of a sync of the same number of records over an uncut, unshaped link."""
    ids = capture(field, 400, marker="again-")
    with ShapingProxy(_port(server), up_bps=None, down_bps=None, rtt=0, cut_every=None) as ideal:
        summary = exchange.sync(field, server=ideal.url)
    assert summary.sent == len(ids)
    return ideal.figures.up


def test_a_fixed_batch_longer_than_the_link_stays_up_never_finishes(
    sync_server: RunningServer, laptops: tuple[Workspace, ...]
) -> None:
    """The same link with one fixed batch of every record (what the client did before its
    pushes were sized): each try is cut before its end, and the sync gives up."""
    _, field, _ = laptops
    capture(field, 400)
    shaped = {"up_bps": 128_000, "down_bps": 256_000, "rtt": 0.2, "cut_every": 4.0}
    with ShapingProxy(_port(sync_server), **shaped) as link:
        with pytest.raises(SyncError, match="kept failing"):
            exchange.sync(
                field, server=link.url, batch_size=PUSH_BATCH * 2, retry=Retry(3, 0.05, 0.2)
            )
    assert len(field.records.unsent(limit=10**9)) == 400


def test_a_field_sync_downloads_only_push_results(
    sync_server: RunningServer, laptops: tuple[Workspace, ...]
) -> None:
    """Bytes down of a field laptop's sync, counted on the wire: pushing 300 records more
    costs a few dozen bytes each (its push results), never its own envelopes back; another
    field laptop's records do not reach it either."""
    coordinator, field, other = laptops
    port = _port(sync_server)

    def bytes_down(ws: Workspace, n: int) -> tuple[int, int]:
        capture(ws, n)
        with ShapingProxy(port, up_bps=None, down_bps=None, rtt=0, cut_every=None) as link:
            summary = exchange.sync(ws, server=link.url)
        assert summary.sent == n and summary.pulled.records == 0
        return link.figures.down, link.figures.up

    exchange.sync(field)  # the statements of the enrolment are behind it
    base_down, _ = bytes_down(field, 1)
    capture(other, 300)
    exchange.sync(other)  # records of another field laptop, in the feed
    down, up = bytes_down(field, 301)
    per_record = (down - base_down) / 300
    assert per_record <= 40, per_record  # a push result: record id and status, gzipped
    assert up / 301 > 10 * per_record  # what went up does not come back down
    # The coordinator still receives every record.
    exchange.pull(coordinator)
    assert len(answers_of(coordinator)) == 602


@dataclass
class _Item:
    envelope: bytes


def test_pace_halves_after_a_cut_and_doubles_within_the_link() -> None:
    """The sizing rule itself, on a clock of our own."""
    now = [0.0]
    pace = Pace(PUSH_BATCH, clock=lambda: now[0])
    queue = deque(_Item(bytes(1000)) for _ in range(1000))
    assert len(pace.take(queue)) == FIRST_BYTES // 1000
    now[0] = 0.5
    pace.went(16_000)  # 32,000 B/s: doubles, no more
    assert pace.bytes == 2 * FIRST_BYTES
    now[0] = 4.0
    pace.went(32_000)  # 48,000 B in 4 s: held to TARGET_SECONDS of that pace
    assert pace.rate == pytest.approx(12_000)
    assert pace.bytes == pytest.approx(12_000 * TARGET_SECONDS)
    now[0] = 12.0
    pace.cut()  # the link stayed up 12 s: pushes of a tenth of that from now on
    assert pace.seconds() == pytest.approx(1.2)
    assert pace.bytes == pytest.approx(12_000)  # halved (under 12,000 B/s x 1.2 s)
    assert len(pace.take(queue)) == 12
    for _ in range(20):
        now[0] += 1
        pace.cut()
    assert pace.bytes == MIN_BYTES  # never below the floor
    queue.appendleft(_Item(bytes(MIN_BYTES * 3)))
    assert len(pace.take(queue)) == 1  # one record always goes, whatever its size
    fixed = Pace(50, adaptive=False)
    fixed.cut()
    fixed.went(10)
    assert len(fixed.take(queue)) == 50
