"""Publishing rules for aggregate figures (DOMAIN §7 and §10): exact counts never leave here.

- A count of people below ``k`` (11 by default, as CTDC publishes) is shown as ``"<k"``; any
  other count is rounded DOWN to a multiple of the resolution (5 by default). A zero is 0.
- Complementary (secondary) suppression: in a breakdown whose cells add up to its total, a
  small cell could be worked out by subtracting the others from the total. So more cells are
  withheld (the smallest first) until no withheld cell can be pinned to one value from what
  is shown; their cells read "withheld" (they are not small, so not "<k").
- Percentages and ratios are computed from the PUBLISHED counts, so a reader who divides the
  figures on the page gets the figure on the page. A rate is withheld with its numerator when
  the numerator, the denominator or the people not counted (denominator − numerator) are too
  few; the withheld rows are protected against subtraction in the same way.
- Counts of an anonymous community survey (no person behind a row) are published exactly:
  ``Protection.anonymous()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WITHHELD", "Figure", "Protection", "Raw", "publish"]

WITHHELD = "withheld"
# Units published as a central value of per-unit values: a median of days, a mean of points.
_CENTRAL = ("days", "points")


@dataclass(frozen=True)
class Protection:
    """The publishing thresholds: minimum cell ``k`` and rounding ``resolution``; ``people``
    False for anonymous survey counts, which are published as they are."""

    k: int = 11
    resolution: int = 5
    people: bool = True

    @classmethod
    def anonymous(cls, like: Protection | None = None) -> Protection:
        """Rules for counts with no person behind them (DOMAIN §10)."""
        base = like or cls()
        return cls(k=base.k, resolution=base.resolution, people=False)

    def count(self, n: int) -> int | str:
        """A published count: 0, ``"<k"``, or n rounded down to the resolution."""
        if n <= 0:
            return 0
        if not self.people:
            return n
        if n < self.k:
            return f"<{self.k}"
        return n - n % self.resolution if self.resolution > 1 else n

    def small(self, n: int) -> bool:
        """True when ``n`` people would be too few to publish."""
        return self.people and 0 < n < self.k

    def bounds(self, shown: int | str | None, *, cap: int) -> tuple[int, int]:
        """What a reader knows of a count from what is shown (``cap``: the largest it can be;
        None: not shown at all, as a withheld rate's numerator)."""
        if shown is None:
            return (0, cap)
        if shown == WITHHELD:
            return (self.k if self.people else 1, cap)
        if isinstance(shown, str):  # "<k"
            return (1, self.k - 1)
        if shown == 0 or not self.people:
            return (shown, shown)
        return (max(shown, self.k), shown + self.resolution - 1)


@dataclass(frozen=True)
class Figure:
    """One published cell: a category's value, numerator and denominator, already protected.

    ``key`` is the category as recorded (a choice name, a site code); ``label`` what the page
    shows (the choice's label in the report's language)."""

    label: str
    value: float | int | str | None
    numerator: int | str | None = None
    denominator: int | str | None = None
    suppressed: bool = False
    key: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key or self.label,
            "label": self.label,
            "value": self.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "suppressed": self.suppressed,
        }


@dataclass(frozen=True)
class Raw:
    """A cell before publishing: a count (``num``), or a rate/ratio ``num``/``den``, or a
    median (days) or mean (points) of ``values``. Never leaves the analysis package."""

    key: str
    num: int = 0
    den: int = 0
    values: tuple[int, ...] = field(default=())


def _protected(
    shown: Sequence[int | str | None], total: int | str, rules: Protection, cap: int
) -> bool:
    """No withheld cell can be pinned to one value from the others and the total."""
    withheld = [i for i, s in enumerate(shown) if s is None or isinstance(s, str)]
    if not withheld:
        return True
    if len(withheld) == 1:
        return False  # the total minus the others gives it, give or take rounding: too close
    lo_t, hi_t = rules.bounds(total, cap=cap)
    bounds = [rules.bounds(s, cap=cap) for s in shown]
    sum_lo = sum(b[0] for b in bounds)
    sum_hi = sum(b[1] for b in bounds)
    for i in withheld:
        lo, hi = bounds[i]
        low = max(lo, lo_t - (sum_hi - hi))
        high = min(hi, hi_t - (sum_lo - lo))
        if high - low < 1:
            return False
    return True


class _Unprotectable(Exception):
    """A breakdown whose small cells cannot be hidden: it is not published."""


def _suppress(
    counts: Sequence[int],
    total: int,
    rules: Protection,
    primary: set[int],
    *,
    hidden: bool = False,
) -> set[int]:
    """The cells to withhold: ``primary`` plus the fewest complements (smallest first) that
    keep every withheld cell from being worked out. Zeros are never withheld (nobody).

    A withheld cell shows as the page shows it: "<k" or "withheld" for a count, nothing at
    all (``hidden``) for a rate's numerator or denominator."""
    if not rules.people:
        return set()
    withheld = set(primary)
    shown_total = rules.count(total)
    while True:
        shown: list[int | str | None] = [
            (None if hidden else _count_cell(n, True, rules)) if i in withheld else rules.count(n)
            for i, n in enumerate(counts)
        ]
        if _protected(shown, shown_total, rules, cap=max(total, rules.k)):
            return withheld
        candidates = sorted((n, i) for i, n in enumerate(counts) if i not in withheld and n > 0)
        if not candidates:
            # Nothing left to withhold and still a cell can be worked out (two cells of 10
            # under a total of 20): no breakdown is published at all.
            raise _Unprotectable
        withheld.add(candidates[0][1])


def _count_cell(n: int, withheld: bool, rules: Protection) -> int | str:
    if not withheld:
        return rules.count(n)
    return rules.count(n) if rules.small(n) else WITHHELD


def _publish(
    unit: str,
    total: Raw,
    cells: Sequence[Raw],
    rules: Protection,
    *,
    partition: bool,
    labels: dict[str, str] | None = None,
) -> tuple[Figure, list[Figure]]:
    """``publish`` itself; raises ``_Unprotectable``."""
    labels = labels or {}

    def name(raw: Raw) -> str:
        return labels.get(raw.key, raw.key)

    if unit == "count":
        primary = {i for i, c in enumerate(cells) if rules.small(c.num)}
        withheld = (
            _suppress([c.num for c in cells], total.num, rules, primary) if partition else primary
        )
        out = []
        for i, c in enumerate(cells):
            shown = _count_cell(c.num, i in withheld, rules)
            out.append(Figure(name(c), shown, numerator=shown, suppressed=isinstance(shown, str),
                              key=c.key))  # fmt: skip
        top = rules.count(total.num)
        return Figure("all", top, numerator=top, suppressed=isinstance(top, str), key="all"), out
    if unit in _CENTRAL:
        primary = {i for i, c in enumerate(cells) if rules.small(len(c.values))}
        sizes = [len(c.values) for c in cells]
        withheld = _suppress(sizes, len(total.values), rules, primary) if partition else primary
        out = [_central(unit, name(c), c, i in withheld, rules) for i, c in enumerate(cells)]
        return _central(unit, "all", total, False, rules), out

    # percent / per_case: a row is withheld with its numerator and people not counted.
    def small_row(c: Raw) -> bool:
        if c.den == 0:
            return False
        comp = c.den - c.num
        return c.den < rules.k or rules.small(c.num) or (unit == "percent" and rules.small(comp))

    primary = {i for i, c in enumerate(cells) if small_row(c)} if rules.people else set()
    withheld = set(primary)
    if partition and rules.people:
        # Numerators, denominators and the people not counted each add up to their total.
        while True:
            before = set(withheld)
            for part in (
                ([c.num for c in cells], total.num),
                ([c.den for c in cells], total.den),
                ([c.den - c.num for c in cells], total.den - total.num),
            ):
                withheld |= _suppress(part[0], part[1], rules, withheld, hidden=True)
            if withheld == before:
                break
    out = [_ratio(unit, name(c), c, i in withheld, rules) for i, c in enumerate(cells)]
    return _ratio(unit, "all", total, small_row(total) and rules.people, rules), out


def publish(
    unit: str,
    total: Raw,
    cells: Sequence[Raw],
    rules: Protection,
    *,
    partition: bool,
    labels: dict[str, str] | None = None,
) -> tuple[Figure, list[Figure]]:
    """The published total and cells of one indicator table.

    ``unit``: ``count``, ``percent``, ``per_case``, ``days`` (a median) or ``points`` (a
    mean). ``partition``: the cells add up to the total (each unit in one category), so
    complementary suppression applies; a multiple-choice breakdown (one person, several
    categories) is no partition. When no
    choice of withheld cells keeps every one of them from being worked out, no cell is
    published (an empty list): the total alone.
    """
    try:
        return _publish(unit, total, cells, rules, partition=partition, labels=labels)
    except _Unprotectable:
        head, _ = _publish(unit, total, [], rules, partition=partition, labels=labels)
        return head, []


def _ratio(unit: str, label: str, c: Raw, withheld: bool, rules: Protection) -> Figure:
    key = label if label == "all" else c.key
    den_shown = rules.count(c.den)
    if c.den == 0:
        return Figure(label, None, numerator=0, denominator=0, key=key)
    if withheld:
        # Nothing that would let a reader rebuild the rate ("withheld (20 of 25)" would).
        return Figure(label, WITHHELD, suppressed=True, key=key)
    num_shown = rules.count(c.num)
    assert isinstance(num_shown, int) and isinstance(den_shown, int)
    if den_shown == 0:
        return Figure(label, WITHHELD, suppressed=True, key=key)
    if unit == "percent":
        value: float | int = round(100 * num_shown / den_shown)
    else:
        value = round(num_shown / den_shown, 1)
    return Figure(label, value, numerator=num_shown, denominator=den_shown, key=key)


def _central(unit: str, label: str, c: Raw, withheld: bool, rules: Protection) -> Figure:
    """The median (days) or the mean to one decimal (points) of a cell's values."""
    key = label if label == "all" else c.key
    n = len(c.values)
    if n == 0:
        return Figure(label, None, denominator=0, key=key)
    if withheld or rules.small(n):
        return Figure(label, WITHHELD, denominator=_count_cell(n, True, rules), suppressed=True,
                      key=key)  # fmt: skip
    if unit == "points":
        value = round(sum(c.values) / n, 1)
    else:
        ordered = sorted(c.values)
        mid = n // 2
        value = float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return Figure(label, value, denominator=rules.count(n), key=key)
