"""What the sneakernet keeps (DESIGN §6b): bundles already imported, and envelopes relayed.

Opaque to the store, like ``statements``: ids, bytes and times; what a bundle means is
``fieldkit.exchange.bundle``'s business.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass

from fieldkit.clock import utc_text
from fieldkit.store._db import Database

__all__ = ["Bundles", "RelayedEnvelope"]


@dataclass(frozen=True)
class RelayedEnvelope:
    """Another device's sealed record, carried here by bundle, waiting for this laptop's sync."""

    device_id: str
    record_id: str
    envelope: bytes


class Bundles:
    """``ws.bundles``: imported bundle ids (so an import happens once) and the relay queue."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def imported_at(self, bundle_id: str) -> str | None:
        """When this bundle was imported here (None: never)."""
        row = self._db.one(
            "SELECT imported_at FROM bundles_imported WHERE bundle_id = ?", (bundle_id,)
        )
        return str(row[0]) if row else None

    def remember(self, *, bundle_id: str, kind: str, signer: str) -> None:
        """Note an imported bundle (inside the import's transaction)."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO bundles_imported (bundle_id, kind, signer, imported_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (bundle_id) DO NOTHING",
                (bundle_id, kind, signer, utc_text()),
            )

    def relay(self, *, device_id: str, record_id: str, envelope: bytes) -> bool:
        """Queue an envelope to forward; False when it is queued (or was sent) already."""
        with self._db.transaction():
            return bool(
                self._db.execute(
                    "INSERT INTO relayed (device_id, record_id, envelope, received_at, sent_at) "
                    "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (device_id, record_id) DO NOTHING",
                    (device_id, record_id, bytes(envelope), utc_text()),
                )
            )

    def relay_waiting(self) -> builtins.list[RelayedEnvelope]:
        """Relayed envelopes the server has not acknowledged yet, oldest first."""
        rows = self._db.all(
            "SELECT device_id, record_id, envelope FROM relayed WHERE sent_at IS NULL "
            "ORDER BY received_at, rowid"
        )
        return [RelayedEnvelope(r[0], r[1], bytes(r[2])) for r in rows]

    def relay_sent(self, items: Iterable[tuple[str, str]]) -> None:
        """The server acknowledged these (device id, record id) pairs."""
        with self._db.transaction():
            now = utc_text()
            for device_id, record_id in items:
                self._db.execute(
                    "UPDATE relayed SET sent_at = ? WHERE device_id = ? AND record_id = ?",
                    (now, device_id, record_id),
                )
