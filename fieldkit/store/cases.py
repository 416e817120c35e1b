"""``ws.cases``: which case each record belongs to, each case event, each case's summary.

The case model lives in ``fieldkit.cases``; this is its SQL. ``case_links`` maps a record to
the case code it names (``""`` for a record of no case, or an event, so it is not looked at
again); ``case_events`` holds each case event's fields as read once from its record (events
are the bulk of a case: they are not parsed again on every derivation); ``case_index`` keeps
each case's summary as JSON with the columns lists filter on, so ``cases list --due`` reads a
table instead of deriving 10,000 cases. All of it lives inside the encrypted database, like
the answers it is read from; a record deleted takes its rows with it (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fieldkit.store._db import Database
from fieldkit.store.records import _COLUMNS, Record, _row_to_record

__all__ = ["CaseIndex", "CaseRow"]

_EVENT_COLUMNS = "record_id, case_code, field, value, base, day, action, device, hlc, wall_ms"
_JOINED = ", ".join(f"r.{name.strip()}" for name in _COLUMNS.split(","))


@dataclass(frozen=True)
class CaseRow:
    """One case's stored summary."""

    case_code: str
    summary: dict[str, Any]


class CaseIndex:
    """Links from records to case codes, and one summary row per case."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def max_rowid(self) -> int:
        """The highest record rowid (a watermark for what was indexed)."""
        return int(self._db.scalar("SELECT coalesce(max(rowid), 0) FROM records") or 0)

    def draft_ids(self) -> builtins.list[str]:
        """Ids of the drafts now in the workspace (they join a case once finalized)."""
        return [r[0] for r in self._db.all("SELECT id FROM records WHERE status = 'draft'")]

    def finalized_since(
        self, rowid: int, ids: Sequence[str] = ()
    ) -> builtins.list[tuple[str, str, str, str, str | None]]:
        """(id, form id, answers JSON, device, HLC) of non-draft records after ``rowid``, or
        among ``ids``."""
        columns = "SELECT id, form_id, answers, device, hlc FROM records"
        rows = self._db.all(f"{columns} WHERE rowid > ? AND status != 'draft'", (rowid,))  # noqa: S608
        wanted = builtins.list(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows += self._db.all(
                f"{columns} WHERE status != 'draft' AND id IN ({marks})",  # noqa: S608
                chunk,
            )
        return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4]) for r in rows]

    def link(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Remember the case code of records (``""``: no case)."""
        self._db.executemany(
            "INSERT INTO case_links (record_id, case_code) VALUES (?, ?) "
            "ON CONFLICT (record_id) DO NOTHING",
            builtins.list(pairs),
        )

    def add_events(self, rows: Iterable[Sequence[Any]]) -> None:
        """Keep case events as read: (record id, case, field, value, base, day, action,
        device, HLC, wall ms)."""
        self._db.executemany(
            "INSERT INTO case_events (record_id, case_code, field, value, base, day, action, "
            "device, hlc, wall_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (record_id) DO NOTHING",
            builtins.list(rows),
        )

    def events(self, codes: Iterable[str]) -> dict[str, builtins.list[tuple[Any, ...]]]:
        """The event rows of each case code (in the order ``add_events`` takes them)."""
        out: dict[str, builtins.list[tuple[Any, ...]]] = {}
        wanted = sorted(set(codes))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._db.all(
                f"SELECT {_EVENT_COLUMNS} FROM case_events "  # noqa: S608
                f"WHERE case_code IN ({marks})",
                chunk,
            ):
                out.setdefault(str(row[1]), []).append(tuple(row))
        return out

    def records(self, codes: Iterable[str]) -> dict[str, builtins.list[Record]]:
        """Every record (drafts excluded) of each case code, oldest first."""
        out: dict[str, builtins.list[Record]] = {}
        wanted = sorted(set(codes))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.all(
                f"SELECT l.case_code, {_JOINED} FROM case_links l "  # noqa: S608
                f"JOIN records r ON r.id = l.record_id WHERE l.case_code IN ({marks}) "
                "AND r.status != 'draft' ORDER BY r.created_at, r.rowid",
                chunk,
            )
            for row in rows:
                out.setdefault(str(row[0]), []).append(_row_to_record(row[1:]))
        return out

    def every_case(
        self,
    ) -> Iterator[tuple[str, builtins.list[Record], builtins.list[tuple[Any, ...]]]]:
        """Each case code with its records and its event rows (one pass over each table)."""
        # Records are a handful per case: all of them first; the many events then stream.
        by_code: dict[str, builtins.list[Record]] = {}
        for row in self._db.iterate(
            f"SELECT l.case_code, {_JOINED} FROM case_links l "  # noqa: S608
            "JOIN records r ON r.id = l.record_id WHERE l.case_code != '' "
            "AND r.status != 'draft' ORDER BY r.created_at, r.rowid",
            size=5000,
        ):
            by_code.setdefault(str(row[0]), []).append(_row_to_record(row[1:]))
        # In table order, not the index's: one sequential pass over the pages.
        events: dict[str, builtins.list[tuple[Any, ...]]] = {}
        for row in self._db.iterate(
            f"SELECT {_EVENT_COLUMNS} FROM case_events",  # noqa: S608
            size=20000,
        ):
            events.setdefault(row[1], []).append(row)
        for code in sorted(set(by_code) | set(events)):
            yield code, by_code.get(code, []), events.get(code, [])

    def put(self, rows: Iterable[tuple[str, dict[str, Any], str | None, bool, int | None]]) -> None:
        """Store summaries: (code, summary, due from, closed, held until ms)."""
        self._db.executemany(
            "INSERT INTO case_index (case_code, summary, due_from, closed, held_until) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_code) DO UPDATE SET "
            "summary = excluded.summary, due_from = excluded.due_from, "
            "closed = excluded.closed, held_until = excluded.held_until",
            [
                (code, json.dumps(summary, separators=(",", ":")), due, int(closed), held)
                for code, summary, due, closed, held in rows
            ],
        )

    def drop(self, codes: Iterable[str]) -> None:
        """Forget the summaries of cases that no longer have a record."""
        self._db.executemany("DELETE FROM case_index WHERE case_code = ?", [(c,) for c in codes])

    def summaries(self, *, due_by: str | None = None) -> builtins.list[CaseRow]:
        """Stored summaries in code order; with ``due_by``, open cases due on or before it."""
        if due_by is None:
            rows = self._db.all("SELECT case_code, summary FROM case_index ORDER BY case_code")
        else:
            rows = self._db.all(
                "SELECT case_code, summary FROM case_index WHERE closed = 0 "
                "AND due_from IS NOT NULL AND due_from <= ? ORDER BY due_from, case_code",
                (due_by,),
            )
        return [CaseRow(str(r[0]), json.loads(r[1])) for r in rows]

    def unsummarised(self) -> builtins.list[str]:
        """Case codes that have records or events but no summary (after a deletion)."""
        rows = self._db.all(
            "SELECT case_code FROM case_links WHERE case_code != '' UNION "
            "SELECT case_code FROM case_events EXCEPT SELECT case_code FROM case_index"
        )
        return [str(r[0]) for r in rows]

    def has(self, code: str) -> bool:
        """Whether a case with this code has a summary."""
        return self._db.one("SELECT 1 FROM case_index WHERE case_code = ?", (code,)) is not None

    def codes(self) -> set[str]:
        """Every case code with a summary."""
        return {str(r[0]) for r in self._db.all("SELECT case_code FROM case_index")}

    def held_before(self, wall_ms: int) -> builtins.list[str]:
        """Cases holding back events whose time has now come."""
        rows = self._db.all(
            "SELECT case_code FROM case_index WHERE held_until IS NOT NULL AND held_until <= ?",
            (wall_ms,),
        )
        return [str(r[0]) for r in rows]
