"""Signed items kept as received, and envelopes held until they can be checked.

The store keeps these as opaque JSON and bytes; what they mean and how they are verified is
``fieldkit.exchange``'s business (docs/internals.md). Both tables live in the encrypted
database like everything else.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fieldkit.clock import utc_text
from fieldkit.store._db import Database

__all__ = ["HeldEnvelope", "Held", "Statements", "StoredStatement"]


@dataclass(frozen=True)
class StoredStatement:
    """One signed item: its id, kind, what it is about, when it was issued, the item itself."""

    id: str
    kind: str
    subject: str
    issued_at: str
    statement: dict[str, Any]


class Statements:
    """``ws.statements``: signed items, stored once by id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        *,
        statement_id: str,
        kind: str,
        subject: str,
        issued_at: str,
        statement: dict[str, Any],
    ) -> bool:
        """Keep a verified item; False when an item with this id is already here."""
        encoded = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        with self._db.transaction():
            changed = self._db.execute(
                "INSERT INTO statements (id, kind, subject, issued_at, statement, stored_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (statement_id, kind, subject, issued_at, encoded, utc_text()),
            )
        return bool(changed)

    def has(self, statement_id: str) -> bool:
        """Whether an item with this id is here."""
        return self._db.one("SELECT 1 FROM statements WHERE id = ?", (statement_id,)) is not None

    def list(
        self, *, kind: str | None = None, subject: str | None = None
    ) -> builtins.list[StoredStatement]:
        """Items (of one kind, about one subject), in the order they were issued."""
        where, params = [], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        sql = "SELECT id, kind, subject, issued_at, statement FROM statements"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.all(sql + " ORDER BY issued_at, rowid", params)
        return [StoredStatement(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def delete(self, *, kind: str, subject: str) -> int:
        """Forget the items of one kind about one subject; returns how many."""
        with self._db.transaction():
            return int(
                self._db.execute(
                    "DELETE FROM statements WHERE kind = ? AND subject = ?", (kind, subject)
                )
                or 0
            )


@dataclass(frozen=True)
class HeldEnvelope:
    """An envelope received but not yet taken in, and why."""

    device_id: str
    record_id: str
    envelope: bytes
    reason: str
    received_at: str | None


class Held:
    """``ws.held``: envelopes set aside until they can be checked (an uncertified device, the
    record they replace not here yet); retried, never silently dropped."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        *,
        device_id: str,
        record_id: str,
        envelope: bytes,
        reason: str,
        received_at: str | None = None,
    ) -> None:
        """Hold an envelope (the same one again only updates why)."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO held (device_id, record_id, envelope, reason, received_at, held_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, record_id) DO UPDATE SET "
                "reason = excluded.reason",
                (device_id, record_id, bytes(envelope), reason, received_at, utc_text()),
            )

    def list(self, *, device_ids: Iterable[str] | None = None) -> builtins.list[HeldEnvelope]:
        """Held envelopes (of some devices), oldest first."""
        rows = self._db.all(
            "SELECT device_id, record_id, envelope, reason, received_at FROM held "
            "ORDER BY held_at, rowid"
        )
        wanted = None if device_ids is None else set(device_ids)
        return [
            HeldEnvelope(r[0], r[1], bytes(r[2]), r[3], r[4])
            for r in rows
            if wanted is None or r[0] in wanted
        ]

    def release(self, *, device_id: str, record_id: str) -> None:
        """Forget a held envelope (taken in, or refused for good)."""
        with self._db.transaction():
            self._db.execute(
                "DELETE FROM held WHERE device_id = ? AND record_id = ?", (device_id, record_id)
            )

    def count(self) -> int:
        """How many envelopes are held."""
        return int(self._db.scalar("SELECT COUNT(*) FROM held") or 0)
