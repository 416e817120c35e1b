"""Case orders as this workspace keeps them: records really deleted, and what was ordered.

``fieldkit.exchange.case_orders`` checks and interprets the signed orders; this module only
stores. Deleting a record here removes its row, its envelope, any envelope held for it and
its grant, in one transaction; ``secure_delete`` (always on, ``_db``) zeroes the freed space,
and after the transaction the WAL is checkpointed and truncated, so the deleted pages are not
left behind in ``workspace.db-wal`` either (docs/security.md, "Erasure").
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldkit.clock import utc_text
from fieldkit.errors import FieldkitError

if TYPE_CHECKING:
    from fieldkit.store.workspace import Workspace

__all__ = ["AppliedOrder", "CaseOrders", "Grant", "case_tag"]

_CHUNK = 400


@dataclass(frozen=True)
class AppliedOrder:
    """One order applied here: no case code, no answer, no record id."""

    order_id: str
    kind: str
    issued_at: str
    applied_at: str
    records: int


@dataclass(frozen=True)
class Grant:
    """A record's data key wrapped to the device its case is assigned to."""

    device_id: str
    record_id: str
    assignee: str
    wrapped_key: str
    issued_at: str


STATE_TAG_KEY = "cases.tag_key"
ERASED = "erased"
WITHDRAWN = "withdrawn:"
EVERY_SCOPE = "*"


def case_tag(ws: Workspace, code: str) -> str:
    """A keyed digest of a case code under a random key kept in this workspace only: lets the
    laptop recognise the case again without keeping its code."""
    key = ws.state.get(STATE_TAG_KEY)
    if not key:
        key = base64.b64encode(os.urandom(32)).decode("ascii")
        ws.state.set(STATE_TAG_KEY, key)
    return hmac.new(base64.b64decode(str(key)), code.encode("utf-8"), hashlib.sha256).hexdigest()


class CaseOrders:
    """``CaseOrders(ws)``: the store side of erasure, withdrawal and assignment."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._db = ws._db  # noqa: SLF001 (the store's own package)

    # --- orders and marks ------------------------------------------------------------------

    def applied(self, order_id: str) -> bool:
        """Whether this order was applied here already (a replay changes nothing)."""
        return self._db.one("SELECT 1 FROM case_orders WHERE order_id = ?", (order_id,)) is not None

    def record_order(self, *, order_id: str, kind: str, issued_at: str, records: int) -> None:
        """Keep the non-identifying trace of an order, and its audit entry."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO case_orders (order_id, kind, issued_at, applied_at, records) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                (order_id, kind, issued_at, utc_text(), int(records)),
            )
            self._ws.audit.append(f"case-{kind}")

    def orders(self) -> builtins.list[AppliedOrder]:
        """Every order applied here, oldest first."""
        rows = self._db.all(
            "SELECT order_id, kind, issued_at, applied_at, records FROM case_orders "
            "ORDER BY applied_at, rowid"
        )
        return [AppliedOrder(*row) for row in rows]

    def mark(self, tag: str, mark: str, *, issued_at: str) -> None:
        """Remember that a case (by its tag) was erased, or had a scope withdrawn."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO case_marks (tag, mark, issued_at) VALUES (?, ?, ?) "
                "ON CONFLICT (tag, mark) DO NOTHING",
                (tag, mark, issued_at),
            )

    def marks(self, tag: str) -> set[str]:
        """What was ordered for one case (by its tag)."""
        return {r[0] for r in self._db.all("SELECT mark FROM case_marks WHERE tag = ?", (tag,))}

    def all_marks(self) -> dict[str, set[str]]:
        """tag → marks, for every case something was ordered for."""
        out: dict[str, set[str]] = {}
        for tag, mark in self._db.all("SELECT tag, mark FROM case_marks"):
            out.setdefault(str(tag), set()).add(str(mark))
        return out

    def withdrawn(self) -> dict[str, set[str]]:
        """tag → consent scopes withdrawn; an erased case has withdrawn every scope (``*``)."""
        out: dict[str, set[str]] = {}
        for tag, marks in self.all_marks().items():
            scopes = {m[len(WITHDRAWN) :] for m in marks if m.startswith(WITHDRAWN)}
            if ERASED in marks:
                scopes.add(EVERY_SCOPE)
            out[tag] = scopes
        return out

    # --- deleting --------------------------------------------------------------------------

    def delete_records(self, record_ids: Iterable[str]) -> int:
        """Delete records (drafts included), their envelopes and held copies; returns
        how many records there were. Joins the caller's transaction; the WAL is truncated
        once the outermost transaction ends."""
        ids = sorted(set(record_ids))
        deleted = 0
        with self._db.transaction():
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                # Constant SQL with only ?-placeholders spliced in.
                self._db.execute(f"DELETE FROM envelopes WHERE record_id IN ({marks})", chunk)  # noqa: S608
                self._db.execute(f"DELETE FROM held WHERE record_id IN ({marks})", chunk)  # noqa: S608
                deleted += self._db.execute(f"DELETE FROM records WHERE id IN ({marks})", chunk)  # noqa: S608
            self._db.after_end(self.truncate_wal)
        return deleted

    def delete_held(self, refs: Iterable[tuple[str, str]]) -> None:
        """Forget envelopes held here by (device_id, record_id)."""
        with self._db.transaction():
            self._db.executemany(
                "DELETE FROM held WHERE device_id = ? AND record_id = ?", builtins.list(refs)
            )

    def truncate_wal(self) -> None:
        """Copy the WAL into the database and cut it to nothing (best effort: a reader in
        another process may keep it; the next checkpoint then does it)."""
        with contextlib.suppress(FieldkitError):
            self._db.all("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- grants ----------------------------------------------------------------------------

    def set_grant(self, grant: Grant) -> bool:
        """Keep a grant unless a later one for the same record is here; True when kept."""
        with self._db.transaction():
            held = self._db.one(
                "SELECT issued_at FROM case_grants WHERE device_id = ? AND record_id = ?",
                (grant.device_id, grant.record_id),
            )
            if held is not None and str(held[0]) >= grant.issued_at:
                return False
            self._db.execute(
                "INSERT INTO case_grants (device_id, record_id, assignee, wrapped_key, issued_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, record_id) DO UPDATE SET "
                "assignee = excluded.assignee, wrapped_key = excluded.wrapped_key, "
                "issued_at = excluded.issued_at",
                (
                    grant.device_id,
                    grant.record_id,
                    grant.assignee,
                    grant.wrapped_key,
                    grant.issued_at,
                ),
            )
        return True

    def grant(self, device_id: str, record_id: str) -> Grant | None:
        """The latest grant of one record, if any."""
        row = self._db.one(
            "SELECT device_id, record_id, assignee, wrapped_key, issued_at FROM case_grants "
            "WHERE device_id = ? AND record_id = ?",
            (device_id, record_id),
        )
        return Grant(*row) if row else None
