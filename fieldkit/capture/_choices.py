"""A choice list as the interviewer sees it: filtered by what is typed, cut into pages.

The number beside a choice is its position in the list as it is shown now (after a filter),
never its name: on a list shown as "1. No  2. Yes" whose names are 0 and 1, ``1`` is *No*
(issue 12). A filter keeps the choices whose label or name holds every typed word, ignoring
case and accents, in the form's order; each keystroke of a live filter costs one pass over the
list (narrowing the previous matches when the query only grew).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ChoiceView", "fold"]


def fold(text: str) -> str:
    """Lower case without accents: ``Côte d'Ivoire`` → ``cote d'ivoire``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Page:
    """One screenful of a view: ``(position, index into the full list)`` pairs."""

    rows: tuple[tuple[int, int], ...]
    first: int  # 1-based position of the first row (0 when empty)
    last: int
    count: int  # positions in the view
    number: int  # 0-based page number
    pages: int


class ChoiceView:
    """The choices of one question, a filter over them and the page on screen."""

    def __init__(self, names: Sequence[str], labels: Sequence[str]) -> None:
        self.names = list(names)
        self.labels = list(labels)
        self._keys = [
            f"{fold(label)}\n{fold(name)}" for name, label in zip(names, labels, strict=True)
        ]
        self.query = ""
        self._shown: list[int] = list(range(len(self.names)))
        self._last_query = ""
        self._last_matches: list[int] = self._shown
        self.page = 0

    @property
    def total(self) -> int:
        """How many choices the question has."""
        return len(self.names)

    @property
    def shown(self) -> list[int]:
        """Indexes (into the full list) of the choices in view, in order."""
        return self._shown

    def matches(self, query: str) -> list[int]:
        """Indexes of the choices matching ``query`` (every word, anywhere)."""
        words = fold(query).split()
        if not words:
            return list(range(len(self.names)))
        # A query that only grew can only narrow the previous matches.
        base = (
            self._last_matches
            if self._last_query and fold(query).startswith(fold(self._last_query))
            else range(len(self.names))
        )
        keys = self._keys
        found = [i for i in base if all(word in keys[i] for word in words)]
        self._last_query, self._last_matches = query, found
        return found

    def set_filter(self, query: str) -> None:
        """Show only the choices matching ``query`` ("" shows them all), from the first page."""
        self.query = query.strip()
        self._shown = self.matches(self.query)
        self.page = 0

    def index_at(self, position: int) -> int | None:
        """The full-list index of the choice at 1-based ``position`` of the view."""
        if 1 <= position <= len(self._shown):
            return self._shown[position - 1]
        return None

    def page_of(
        self, size: int, *, shown: Sequence[int] | None = None, page: int | None = None
    ) -> Page:
        """The rows of one page of ``size`` lines (the current page of the view by default)."""
        indexes = list(self._shown if shown is None else shown)
        size = max(size, 1)
        pages = max((len(indexes) + size - 1) // size, 1)
        number = min(max(self.page if page is None else page, 0), pages - 1)
        start = number * size
        rows = tuple((start + k + 1, i) for k, i in enumerate(indexes[start : start + size]))
        first = rows[0][0] if rows else 0
        last = rows[-1][0] if rows else 0
        return Page(
            rows=rows, first=first, last=last, count=len(indexes), number=number, pages=pages
        )

    def turn(self, step: int, size: int) -> None:
        """Move ``step`` pages (bounded by the first and last page)."""
        pages = max((len(self._shown) + max(size, 1) - 1) // max(size, 1), 1)
        self.page = min(max(self.page + step, 0), pages - 1)
