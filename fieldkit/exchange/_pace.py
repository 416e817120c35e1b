"""How much one push carries: sized by bytes to the pace the link has shown.

A fixed number of records per push cannot suit both a LAN and a 2G link that drops every
half minute: 250 records are 0.1 s on the first and 40 s on the second, longer than the link
stays up, so a batch that size is cut and sent again from its first byte forever. Here a
push is sized in envelope bytes. It starts small, doubles after each push that went
through, and is held to what the link carried in about ``TARGET_SECONDS`` (the last
pushes' pace) and to a sixth of the shortest time the link stayed up between two cuts.
A cut halves it. What a cut loses is then a few seconds of uplink, never a whole sync.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["FIRST_BYTES", "MAX_BYTES", "MIN_BYTES", "TARGET_SECONDS", "Pace"]

FIRST_BYTES = 16 * 1024  # the first push of a sync: about 10 records, 1-2 s on 64 kbit/s
MIN_BYTES = 4 * 1024  # never smaller than this (one record always goes, whatever its size)
MAX_BYTES = 4 * 1024 * 1024  # far under the server's 16 MiB body limit, even uncompressed
TARGET_SECONDS = 2.0  # a push should take about this long on the link
_CUT_SHARE = 10  # ... and at most this share of the time the link stays up between cuts


class _Sendable(Protocol):
    @property
    def envelope(self) -> bytes: ...


class Pace:
    """The size of the next push, learnt from the pushes of this sync."""

    def __init__(
        self,
        max_records: int,
        *,
        adaptive: bool = True,
        first_bytes: int = FIRST_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_records = max(1, max_records)
        self.adaptive = adaptive
        self.bytes = float(first_bytes) if adaptive else float("inf")
        self.rate: float | None = None  # envelope bytes a second the link carried of late
        self.cuts = 0
        self._clock = clock
        self._up_since = clock()
        self._up_for: float | None = None  # shortest time the link stayed up between cuts
        # Pushes in flight share the link, so its pace is what all of them carried together
        # since the first of them was sent (after the last cut), not one push's own time.
        self._sending_since: float | None = None
        self._carried = 0

    def take(self, queue: deque[Any]) -> list[Any]:
        """The next push's items from the front of ``queue`` (at least one)."""
        if self._sending_since is None:
            self._sending_since = self._clock()
        batch: list[_Sendable] = []
        size = 0
        while queue and len(batch) < self.max_records:
            n = len(queue[0].envelope)
            if batch and size + n > self.bytes:
                break
            batch.append(queue.popleft())
            size += n
        return batch

    def went(self, size: int) -> None:
        """A push of ``size`` envelope bytes went through."""
        self._carried += size
        if not self.adaptive or self._sending_since is None:
            return
        self.rate = self._carried / max(self._clock() - self._sending_since, 1e-3)
        self.bytes = max(MIN_BYTES, min(2 * self.bytes, self.rate * self.seconds(), MAX_BYTES))

    def cut(self) -> None:
        """A push was cut (or the server was busy): smaller pushes from now on."""
        now = self._clock()
        self.cuts += 1
        up = now - self._up_since
        self._up_for = up if self._up_for is None else min(self._up_for, up)
        self._up_since = now
        self._sending_since, self._carried = None, 0
        if self.adaptive:
            self.bytes = max(MIN_BYTES, min(self.bytes / 2, self._fit()))

    def seconds(self) -> float:
        """How long one push should take on this link."""
        if self._up_for is None:
            return TARGET_SECONDS
        return min(TARGET_SECONDS, self._up_for / _CUT_SHARE)

    def _fit(self) -> float:
        return self.bytes if self.rate is None else self.rate * self.seconds()
