"""Schema versions: ``PRAGMA user_version`` and an ordered list of migrations.

A workspace made by any fieldkit opens in every later one: on open, each migration after the
file's version runs in order, in one transaction with the version bump. A file from a newer
fieldkit is refused (``MigrationError``) rather than misread. Never edit a released migration;
append a new one.
"""

from __future__ import annotations

from collections.abc import Callable

from fieldkit.errors import MigrationError
from fieldkit.store._db import Database

__all__ = ["MIGRATIONS", "current_version", "migrate"]


def _v1(db: Database) -> None:
    """Forms, records (drafts and finalized), key-value state, device keys, audit log."""
    db.script(
        """
        CREATE TABLE forms (
            form_id TEXT NOT NULL,
            version TEXT NOT NULL,
            title TEXT NOT NULL,
            definition TEXT NOT NULL,
            added_at TEXT NOT NULL,
            PRIMARY KEY (form_id, version)
        );
        CREATE TABLE records (
            id TEXT PRIMARY KEY,
            form_id TEXT NOT NULL,
            form_version TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('draft', 'finalized', 'sent')),
            replaces TEXT,
            case_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finalized_at TEXT,
            answers TEXT NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('local', 'received')),
            device TEXT NOT NULL,
            capture_day TEXT NOT NULL,
            hlc TEXT
        );
        CREATE INDEX records_by_form ON records (form_id, created_at);
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE device (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            device_id TEXT NOT NULL,
            x25519 BLOB NOT NULL,
            ed25519 BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            record_id TEXT,
            form_id TEXT,
            device TEXT NOT NULL,
            prev TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TABLE audit_head (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            count INTEGER NOT NULL,
            head TEXT NOT NULL,
            mac TEXT NOT NULL
        )
        """
    )


def _v2(db: Database) -> None:
    """Sealed envelopes waiting for (or done with) sync, and a status index for lists."""
    db.script(
        """
        CREATE TABLE envelopes (
            record_id TEXT PRIMARY KEY REFERENCES records (id) ON DELETE CASCADE,
            envelope BLOB NOT NULL,
            sealed_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX envelopes_unsent ON envelopes (sent_at, sealed_at);
        CREATE INDEX records_by_status ON records (status, created_at)
        """
    )


def _v3(db: Database) -> None:
    """Signed project items kept as received, envelopes held until they can be checked, and
    the publisher's time of each form version (which one is current)."""
    db.script(
        """
        ALTER TABLE forms ADD COLUMN published_at TEXT;
        CREATE TABLE statements (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            statement TEXT NOT NULL,
            stored_at TEXT NOT NULL
        );
        CREATE INDEX statements_by_subject ON statements (kind, subject, issued_at);
        CREATE TABLE held (
            device_id TEXT NOT NULL,
            record_id TEXT NOT NULL,
            envelope BLOB NOT NULL,
            reason TEXT NOT NULL,
            received_at TEXT,
            held_at TEXT NOT NULL,
            PRIMARY KEY (device_id, record_id)
        )
        """
    )


def _received_at(db: Database) -> None:
    """The server's receipt time of a pulled record (exports show it as ``_received_at``)."""
    db.script("ALTER TABLE records ADD COLUMN received_at TEXT")


# In order: MIGRATIONS[i] takes a file from version i to version i + 1.
MIGRATIONS: list[Callable[[Database], None]] = [_v1, _v2, _v3, _received_at]


def current_version() -> int:
    """The schema version this fieldkit writes."""
    return len(MIGRATIONS)


def migrate(db: Database) -> int:
    """Bring ``db`` up to the current version; returns the version it had before."""
    found = int(db.scalar("PRAGMA user_version") or 0)
    target = len(MIGRATIONS)
    if found > target:
        raise MigrationError(
            f"database {db.path} was written by a newer fieldkit (schema {found}, this one reads "
            f"up to {target}): upgrade fieldkit"
        )
    if found < target:
        with db.transaction():
            for step in MIGRATIONS[found:target]:
                step(db)
            # PRAGMA takes no parameters; target is an int we computed.
            db.execute(f"PRAGMA user_version = {target:d}")
    return found
