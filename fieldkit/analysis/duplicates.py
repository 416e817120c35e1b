"""Likely duplicate persons: flagged for a person to judge, never merged.

Two records with the same pseudonymous key (by default ``client_pseudonym``; for follow-ups
also ``visit_month``, since one person has one visit per scheduled month) may be one person
screened twice, or two people given one code by mistake. Only someone who knows the case can
tell, so the export adds ``_possible_duplicate`` (true/false) and ``_duplicate_group`` (a number
shared by the rows that match) and keeps every row. The same *record id* arriving twice is a
different matter, handled in ``tables.py``: it is one record and appears once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from fieldkit.analysis._schema import Schema

__all__ = ["DEFAULT_KEYS", "default_duplicate_keys", "duplicate_flags"]

DEFAULT_KEYS = ("client_pseudonym",)
# Fields that, when the form has them, narrow the match: a follow-up at 1 and at 3 months for
# one person is a schedule, not a duplicate (FIELDS: follow_up.visit_month).
_NARROWING = ("visit_month",)


def default_duplicate_keys(schema: Schema) -> list[str]:
    """The key fields used when none are configured: those of DEFAULT_KEYS the form has."""
    top = {c.name for c in schema.columns.values() if c.table == schema.root}
    keys = [k for k in DEFAULT_KEYS if k in top]
    if keys:
        keys += [k for k in _NARROWING if k in top]
    return keys


def duplicate_flags(
    key_values: Mapping[str, Sequence[str | None]],
    *,
    current: Sequence[bool] | None = None,
) -> tuple[pd.Series[Any], pd.Series[Any]]:
    """Flag rows whose key fields are all answered and equal to another row's.

    ``current`` (history exports) limits matching to the current version of each record;
    superseded rows get a blank flag, since an edit and its original are one record.
    Returns the ``_possible_duplicate`` (boolean) and ``_duplicate_group`` (Int64) columns.
    """
    import pandas as pd

    columns = list(key_values.values())
    n = len(columns[0]) if columns else 0
    keys: list[tuple[str, ...] | None] = []
    for i in range(n):
        parts = tuple((col[i] or "").strip() for col in columns)
        live = current is None or current[i]
        keys.append(parts if live and all(parts) else None)
    counts: dict[tuple[str, ...], int] = {}
    for key in keys:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    groups: dict[tuple[str, ...], int] = {}
    flagged: list[bool | None] = []
    group: list[int | None] = []
    for i, key in enumerate(keys):
        if current is not None and not current[i]:
            flagged.append(None)
            group.append(None)
        elif key is not None and counts[key] > 1:
            flagged.append(True)
            group.append(groups.setdefault(key, len(groups) + 1))
        else:
            flagged.append(False)
            group.append(None)
    return pd.Series(flagged, dtype="boolean"), pd.Series(group, dtype="Int64")
