"""Publishing rules for aggregate figures: small-cell suppression and rounding (DOMAIN §7).

A count below ``k`` (11 by default, as CTDC publishes) is shown as ``"<k"``; any other count is
rounded DOWN to a multiple of the resolution (5 by default), the practice of CTDC's
k-anonymised global dataset. A zero is published as 0: it describes nobody. A rate is
withheld when its denominator is below k, or when its numerator or the complement
(denominator − numerator) is a small non-zero count, since either would let a reader count a
handful of people. Exact counts never leave this module: only :class:`Figure` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Figure", "Protection"]


@dataclass(frozen=True)
class Protection:
    """The publishing thresholds: minimum cell ``k`` and rounding ``resolution``."""

    k: int = 11
    resolution: int = 5

    def count(self, n: int) -> int | str:
        """A published count: 0, ``"<k"``, or n rounded down to the resolution."""
        if n <= 0:
            return 0
        if n < self.k:
            return f"<{self.k}"
        return n - n % self.resolution if self.resolution > 1 else n

    def small(self, n: int) -> bool:
        """True when ``n`` people would be too few to publish."""
        return 0 < n < self.k


@dataclass(frozen=True)
class Figure:
    """One published cell: a category's numerator, denominator and value, already protected."""

    label: str
    value: float | int | str | None
    numerator: int | str | None = None
    denominator: int | str | None = None
    suppressed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": self.label,
            "value": self.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "suppressed": self.suppressed,
        }


def count_figure(label: str, n: int, rules: Protection) -> Figure:
    """A count of people (or of events about people)."""
    shown = rules.count(n)
    return Figure(label, shown, numerator=shown, suppressed=isinstance(shown, str))


def rate_figure(label: str, num: int, den: int, rules: Protection) -> Figure:
    """A percentage num/den, rounded to a whole percent, withheld when it would reveal few."""
    withheld = den < rules.k or rules.small(num) or rules.small(den - num)
    value: float | str | None
    if den == 0:
        value = None
    elif withheld:
        value = "suppressed"
    else:
        value = round(100 * num / den)
    return Figure(
        label,
        value,
        numerator=rules.count(num),
        denominator=rules.count(den),
        suppressed=withheld and den > 0,
    )


def ratio_figure(label: str, num: int, den: int, rules: Protection) -> Figure:
    """A mean per unit (e.g. follow-ups per case), one decimal, withheld on small counts."""
    withheld = den < rules.k or rules.small(num)
    value: float | str | None
    if den == 0:
        value = None
    elif withheld:
        value = "suppressed"
    else:
        value = round(num / den, 1)
    return Figure(
        label,
        value,
        numerator=rules.count(num),
        denominator=rules.count(den),
        suppressed=withheld and den > 0,
    )


def median_figure(label: str, values: list[int], rules: Protection) -> Figure:
    """A median of whole numbers over people, withheld when fewer than k contribute."""
    n = len(values)
    value: float | str | None
    if n == 0:
        value = None
    elif n < rules.k:
        value = "suppressed"
    else:
        ordered = sorted(values)
        mid = n // 2
        value = float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return Figure(label, value, denominator=rules.count(n), suppressed=0 < n < rules.k)
