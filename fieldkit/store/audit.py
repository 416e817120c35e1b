"""The audit log: who did what to which record, when — never answer text.

Each entry's hash covers the previous entry's hash, so editing or deleting an entry in the
middle breaks the chain. The chain's length and head are anchored by an HMAC under a key
derived from the DMK (``fieldkit.crypto.keys.audit_key``), written in the same transaction as
the entry, so cutting entries off the end is caught too: the raw SQLCipher key alone (HKDF is
one-way) is not enough to forge a matching anchor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass

from fieldkit.clock import utc_text
from fieldkit.crypto import keys
from fieldkit.store._db import Database

__all__ = ["Audit", "AuditEntry", "AuditReport"]

_GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One line of the log."""

    seq: int
    at: str
    action: str
    record_id: str | None
    form_id: str | None
    device: str


@dataclass(frozen=True)
class AuditReport:
    """The result of ``Audit.verify()``: ``ok``, how many entries, and the first problem found."""

    ok: bool
    entries: int
    problem: str | None = None
    seq: int | None = None


# One encoder, made once: json.dumps with options builds a new encoder on every call, which
# shows in bulk imports (one entry per record).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def _entry_hash(prev: str, entry: AuditEntry) -> str:
    body = _ENCODER.encode(
        [entry.seq, entry.at, entry.action, entry.record_id, entry.form_id, entry.device]
    )
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


class Audit:
    """Append to and verify the workspace's hash-chained audit log."""

    def __init__(self, db: Database, *, key: bytes, device: str) -> None:
        self._db = db
        self._key = key
        self._device = device
        self._head: tuple[int, str] | None = None  # (count, head hash) inside a transaction

    def append(
        self, action: str, *, record_id: str | None = None, form_id: str | None = None
    ) -> None:
        """Add an entry (joins the caller's transaction, so the change and its entry are one)."""
        self.append_many([(action, record_id, form_id)])

    def append_many(self, items: Sequence[tuple[str, str | None, str | None]]) -> None:
        """Add ``(action, record_id, form_id)`` entries in order, with one statement."""
        if not items:
            return
        with self._db.transaction():
            if self._head is None:
                # Read inside the write transaction: another process may have appended since.
                row = self._db.one("SELECT count, head FROM audit_head WHERE one = 1")
                self._head = (int(row[0]), str(row[1])) if row else (0, _GENESIS)
                self._db.before_commit(self._write_anchor)
                self._db.after_end(self._forget_head)
            count, head = self._head
            at = utc_text()
            rows = []
            for action, record_id, form_id in items:
                count += 1
                entry = AuditEntry(count, at, action, record_id, form_id, self._device)
                digest = _entry_hash(head, entry)
                rows.append((count, at, action, record_id, form_id, self._device, head, digest))
                head = digest
            sql = (
                "INSERT INTO audit (seq, at, action, record_id, form_id, device, prev, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            )
            if len(rows) == 1:
                self._db.execute(sql, rows[0])  # the common case: one change, one entry
            else:
                self._db.executemany(sql, rows)
            self._head = (count, head)

    def entries(self, *, record_id: str | None = None) -> list[AuditEntry]:
        """The entries in order (of one record when ``record_id`` is given)."""
        sql = "SELECT seq, at, action, record_id, form_id, device FROM audit"
        params: tuple[str, ...] = ()
        if record_id is not None:
            sql += " WHERE record_id = ?"
            params = (record_id,)
        return [AuditEntry(*row) for row in self._db.all(sql + " ORDER BY seq", params)]

    def verify(self) -> AuditReport:
        """Recompute the chain and check its anchor; reports the first entry that fails."""
        head, count = _GENESIS, 0
        rows = self._db.iterate(
            "SELECT seq, at, action, record_id, form_id, device, prev, hash FROM audit ORDER BY seq"
        )
        for row in rows:
            entry = AuditEntry(*row[:6])
            if entry.seq != count + 1:
                return AuditReport(False, count, f"entry {count + 1} is missing", count + 1)
            if row[6] != head or row[7] != _entry_hash(head, entry):
                return AuditReport(False, count, f"entry {entry.seq} was altered", entry.seq)
            head, count = row[7], entry.seq
        anchor = self._db.one("SELECT count, head, mac FROM audit_head WHERE one = 1")
        if anchor is None:
            if count:
                return AuditReport(False, count, "the audit log's anchor is missing")
            return AuditReport(True, 0)
        if not hmac.compare_digest(str(anchor[2]), self._anchor_mac(int(anchor[0]), anchor[1])):
            return AuditReport(False, count, "the audit log's anchor was altered")
        if int(anchor[0]) != count or anchor[1] != head:
            return AuditReport(False, count, f"entries after {count} were removed", count + 1)
        return AuditReport(True, count)

    def _anchor_mac(self, count: int, head: str) -> str:
        return keys.mac(self._key, f"{count}:{head}".encode()).hex()

    def _write_anchor(self) -> None:
        if self._head is None:
            return
        count, head = self._head
        self._db.execute(
            "INSERT INTO audit_head (one, count, head, mac) VALUES (1, ?, ?, ?) "
            "ON CONFLICT (one) DO UPDATE SET count = excluded.count, head = excluded.head, "
            "mac = excluded.mac",
            (count, head, self._anchor_mac(count, head)),
        )

    def _forget_head(self) -> None:
        self._head = None
