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


def _case_orders(db: Database) -> None:
    """Case orders applied here (erasure, withdrawal, assignment), with nothing that names the
    person: the order's id and kind, when, how many records went. ``case_marks`` keeps, per
    case, a keyed digest of its code (never the code) and what was ordered — erased, or a
    scope withdrawn — so a record of that case arriving later is refused too.
    ``case_grants`` holds the data keys of records assigned to this device."""
    db.script(
        """
        CREATE TABLE case_orders (
            order_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            records INTEGER NOT NULL
        );
        CREATE TABLE case_marks (
            tag TEXT NOT NULL,
            mark TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            PRIMARY KEY (tag, mark)
        );
        CREATE TABLE case_grants (
            device_id TEXT NOT NULL,
            record_id TEXT NOT NULL,
            assignee TEXT NOT NULL,
            wrapped_key TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            PRIMARY KEY (device_id, record_id)
        )
        """
    )


def _bundles(db: Database) -> None:
    """Sneakernet (DESIGN §6b): how each envelope was delivered, the bundles already imported
    (exactly once), and other devices' envelopes a relay laptop forwards on its next sync."""
    db.script(
        """
        ALTER TABLE envelopes ADD COLUMN delivered_by TEXT;
        CREATE TABLE bundles_imported (
            bundle_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            signer TEXT NOT NULL,
            imported_at TEXT NOT NULL
        );
        CREATE TABLE relayed (
            device_id TEXT NOT NULL,
            record_id TEXT NOT NULL,
            envelope BLOB NOT NULL,
            received_at TEXT NOT NULL,
            sent_at TEXT,
            PRIMARY KEY (device_id, record_id)
        )
        """
    )


def _attachments(db: Database) -> None:
    """Attachments (DESIGN §6a): photos, recordings and files copied in chunks, with what
    regenerates their sealed stream (issue 17)."""
    db.script(
        """
        CREATE TABLE attachments (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            record_id TEXT,
            form_id TEXT,
            question TEXT NOT NULL,
            kind TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            chunk_size INTEGER NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('local', 'received', 'form')),
            device TEXT NOT NULL,
            stripped INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            complete INTEGER NOT NULL,
            header BLOB,
            data_key BLOB,
            signature BLOB,
            sealed_sha256 TEXT,
            sealed_size INTEGER,
            sent_at TEXT
        );
        CREATE INDEX attachments_by_record ON attachments (record_id);
        CREATE TABLE attachment_chunks (
            attachment_id TEXT NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (attachment_id, seq)
        )
        """
    )


def _case_index(db: Database) -> None:
    """Which case each record belongs to, each case event read once, and each case's derived
    summary (cases list)."""
    db.script(
        """
        CREATE TABLE case_links (
            record_id TEXT PRIMARY KEY REFERENCES records (id) ON DELETE CASCADE,
            case_code TEXT NOT NULL
        );
        CREATE INDEX case_links_by_code ON case_links (case_code);
        CREATE TABLE case_index (
            case_code TEXT PRIMARY KEY,
            summary TEXT NOT NULL,
            due_from TEXT,
            closed INTEGER NOT NULL,
            held_until INTEGER
        );
        CREATE INDEX case_index_due ON case_index (closed, due_from);
        CREATE INDEX case_index_held ON case_index (held_until) WHERE held_until IS NOT NULL;
        CREATE TABLE case_events (
            record_id TEXT PRIMARY KEY REFERENCES records (id) ON DELETE CASCADE,
            case_code TEXT NOT NULL,
            field TEXT NOT NULL,
            value TEXT NOT NULL,
            base TEXT NOT NULL,
            day TEXT NOT NULL,
            action TEXT NOT NULL,
            device TEXT NOT NULL,
            hlc TEXT NOT NULL,
            wall_ms INTEGER NOT NULL
        );
        CREATE INDEX case_events_by_code ON case_events (case_code)
        """
    )
    # A record deleted (an erasure or a withdrawal order) takes its case's summary with it
    # and asks the next refresh to derive what is left of the case. One statement each:
    # ``script`` splits on semicolons.
    for table, when in (("case_links", "WHEN old.case_code != '' "), ("case_events", "")):
        db.execute(
            f"CREATE TRIGGER {table}_deleted AFTER DELETE ON {table} {when}BEGIN "  # noqa: S608
            "DELETE FROM case_index WHERE case_code = old.case_code; "
            "INSERT OR REPLACE INTO state (key, value) VALUES ('cases.stale', 'true'); END"
        )


# In order: MIGRATIONS[i] takes a file from version i to version i + 1.
MIGRATIONS: list[Callable[[Database], None]] = [
    _v1,
    _v2,
    _v3,
    _received_at,
    _case_orders,
    _bundles,
    _attachments,
    _case_index,
]


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
