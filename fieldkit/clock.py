"""The one clock of fieldkit: UTC wall time, and a hybrid logical clock (HLC) as sortable text.

Every timestamp fieldkit writes comes from here, so that tests and the audit log agree on one
format: ISO 8601 in UTC with milliseconds and a ``Z`` (``2026-11-28T11:53:42.123Z``), which sorts
as text in time order.

The HLC (Kulkarni et al., "Logical Physical Clocks", 2014) orders case events across devices
whose wall clocks disagree: it never goes backwards, it moves past every timestamp it has seen,
and it stays close to wall time, so a laptop with a wrong clock cannot jump ahead of events it
never saw by more than its own skew. Its text form ``<wall ms, 15 digits>-<counter, 5 digits>-
<node>`` sorts as text in HLC order.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["HLC", "HybridLogicalClock", "utc_now", "utc_text", "utc_day"]

_HLC_RE = re.compile(r"^(\d{15})-(\d{5})-([0-9A-Za-z_.:]{1,64})$")
_COUNTER_MAX = 99_999


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def utc_text(moment: datetime | None = None) -> str:
    """ISO 8601 UTC text with milliseconds and a ``Z``; sorts as text in time order."""
    moment = (moment or utc_now()).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_day(moment: datetime | None = None) -> str:
    """The UTC calendar day ``YYYY-MM-DD`` of ``moment`` (default: now)."""
    return (moment or utc_now()).astimezone(UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, order=True)
class HLC:
    """One hybrid logical timestamp; compares (and its text sorts) in HLC order."""

    wall_ms: int
    counter: int
    node: str

    def text(self) -> str:
        """The sortable text form."""
        return f"{self.wall_ms:015d}-{self.counter:05d}-{self.node}"

    @classmethod
    def parse(cls, text: str) -> HLC:
        """Read the text form; ``ValueError`` when it is not one."""
        match = _HLC_RE.match(text)
        if not match:
            raise ValueError("not a hybrid logical clock value")
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))


class HybridLogicalClock:
    """An HLC for one node; ``tick()`` for a local event, ``observe()`` for a received one."""

    def __init__(self, node: str, *, last: str | None = None) -> None:
        if not re.fullmatch(r"[0-9A-Za-z_.:]{1,64}", node):
            raise ValueError("an HLC node id is 1-64 characters of [0-9A-Za-z_.:]")
        self.node = node
        self._last = HLC.parse(last) if last else HLC(0, 0, node)

    @property
    def last(self) -> str:
        """The text of the last value this clock gave or saw."""
        return self._last.text()

    def tick(self, *, wall_ms: int | None = None) -> str:
        """A new timestamp for a local event, later than every one given or seen."""
        wall = _wall_ms() if wall_ms is None else wall_ms
        if wall > self._last.wall_ms:
            self._last = HLC(wall, 0, self.node)
        else:
            self._last = self._bump(self._last.wall_ms, self._last.counter)
        return self._last.text()

    def observe(self, remote: str, *, wall_ms: int | None = None) -> str:
        """Merge a timestamp received from another node; returns the new local timestamp."""
        other = HLC.parse(remote)
        wall = _wall_ms() if wall_ms is None else wall_ms
        top = max(wall, self._last.wall_ms, other.wall_ms)
        if top == self._last.wall_ms == other.wall_ms:
            counter = max(self._last.counter, other.counter)
        elif top == self._last.wall_ms:
            counter = self._last.counter
        elif top == other.wall_ms:
            counter = other.counter
        else:
            self._last = HLC(top, 0, self.node)
            return self._last.text()
        self._last = self._bump(top, counter)
        return self._last.text()

    def _bump(self, wall: int, counter: int) -> HLC:
        # The counter is bounded so the text keeps a fixed width; past it, borrow a millisecond.
        if counter >= _COUNTER_MAX:
            return HLC(wall + 1, 0, self.node)
        return HLC(wall, counter + 1, self.node)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000
