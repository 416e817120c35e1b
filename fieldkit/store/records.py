"""Records: drafts saved after every answer, finalized (immutable) submissions, edits, imports.

DESIGN §5. A record's answers are the flat ``dict[str, str]`` of docs/internals.md. Every
change and its audit entry are one transaction; every transaction is durable (WAL,
``synchronous=FULL``) before the call returns. ``batch()`` wraps many calls in one transaction
for bulk imports.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fieldkit.clock import utc_day, utc_text
from fieldkit.errors import FormNotFound, RecordError, RecordImmutable, RecordNotFound
from fieldkit.store._db import Database

if TYPE_CHECKING:
    from fieldkit.store.workspace import Workspace

__all__ = ["Record", "Records", "StoredEnvelope"]

# A constant list of our own column names: the f-strings below splice in no outside text.
_COLUMNS = (
    "id, form_id, form_version, status, replaces, case_id, created_at, updated_at, "
    "finalized_at, answers, origin, device, capture_day, hlc, received_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM records"  # noqa: S608
_INSERT = f"INSERT INTO records ({_COLUMNS}) VALUES ({', '.join('?' * 15)})"  # noqa: S608
_INSERT_IF_NEW = _INSERT + " ON CONFLICT (id) DO NOTHING"
_SELECT_UNSEALED = (
    "SELECT "  # noqa: S608
    + ", ".join(f"r.{name.strip()}" for name in _COLUMNS.split(","))
    + " FROM records r LEFT JOIN envelopes e ON e.record_id = r.id "
    "WHERE r.status = 'finalized' AND r.origin = 'local' AND e.record_id IS NULL "
    "ORDER BY r.finalized_at, r.rowid"
)


@dataclass(frozen=True)
class Record:
    """One record. Times are ISO 8601 UTC text (``fieldkit.clock.utc_text``)."""

    id: str
    form_id: str
    form_version: str
    status: str
    replaces: str | None
    case_id: str | None
    created_at: str
    updated_at: str
    finalized_at: str | None
    answers: dict[str, str] = field(repr=False)  # never in a repr: answers are personal data
    origin: str
    device: str
    capture_day: str
    hlc: str | None
    # When the server received it (Kobo's _submission_time, ODK Central's SubmissionDate):
    # only a coordinator's pulled records have one.
    received_at: str | None = None

    def summary(self) -> dict[str, Any]:
        """Everything but the answers, JSON-ready (what ``records list --json`` shows)."""
        return {
            "id": self.id,
            "form_id": self.form_id,
            "form_version": self.form_version,
            "status": self.status,
            "replaces": self.replaces,
            "case_id": self.case_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finalized_at": self.finalized_at,
            "origin": self.origin,
            "device": self.device,
        }


@dataclass(frozen=True)
class StoredEnvelope:
    """A sealed record as kept for sync."""

    record_id: str
    envelope: bytes
    sealed_at: str
    sent_at: str | None


def _uuid4() -> str:
    """A random (version 4, RFC 9562 §5.4) UUID as text, without importing ``uuid``.

    ``uuid`` pulls in ``platform`` at import, which capture's start-up cannot afford.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _instance_id_paths(answers: Mapping[str, str]) -> builtins.list[str]:
    """The record's own ``/ROOT/meta/instanceID`` path (one at most; none in a bare test form)."""
    return [p for p in answers if p.endswith("/meta/instanceID") and p.count("/") == 3]


def _row_to_record(row: tuple[Any, ...]) -> Record:
    values = list(row)
    values[9] = json.loads(values[9])
    return Record(*values)


# Made once (json.dumps with options builds an encoder per call). Keys keep their order: the
# engine's order is document order, which is what a reader of the stored JSON expects.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _clean_answers(answers: Mapping[str, str]) -> str:
    if not isinstance(answers, Mapping):
        raise TypeError("answers must be a mapping of instance path to text")
    # Type sets built in C: this runs once per record in bulk imports.
    if {*map(type, answers), *map(type, answers.values())} - {str}:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in answers.items()):
            raise TypeError("answers must map instance paths (str) to text (str)")
    return _ENCODER.encode(dict(answers))


class Records:
    """``ws.records``: the record API of docs/internals.md."""

    def __init__(self, workspace: Workspace, db: Database) -> None:
        self._ws = workspace
        self._db = db

    # -- drafts ------------------------------------------------------------------------------

    def create_draft(
        self,
        *,
        form_id: str,
        form_version: str,
        replaces: str | None = None,
        case_id: str | None = None,
        answers: Mapping[str, str] | None = None,
    ) -> Record:
        """A new, empty (or pre-filled) draft for a form version held in this workspace."""
        now = utc_text()
        record_id = _uuid4()
        encoded = _clean_answers(answers or {})
        with self._db.transaction():
            if not self._db.one(
                "SELECT 1 FROM forms WHERE form_id = ? AND version = ?", (form_id, form_version)
            ):
                raise FormNotFound(
                    f"form {form_id} version {form_version} is not in this workspace"
                )
            if replaces is not None:
                self._require(replaces)
            self._db.execute(
                _INSERT,
                (
                    record_id,
                    form_id,
                    form_version,
                    "draft",
                    replaces,
                    case_id,
                    now,
                    now,
                    None,
                    encoded,
                    "local",
                    self._ws.device_id,
                    utc_day(),
                    None,
                    None,
                ),
            )
            self._ws.audit.append(
                "replace" if replaces else "create", record_id=record_id, form_id=form_id
            )
        return self.get(record_id)

    def save_answers(self, record_id: str, answers: Mapping[str, str]) -> None:
        """Replace a draft's answers (the FormSession's ``answers()``); durable on return."""
        encoded = _clean_answers(answers)
        with self._db.transaction():
            form_id = self._require_draft(record_id)
            self._db.execute(
                "UPDATE records SET answers = ?, updated_at = ? WHERE id = ?",
                (encoded, utc_text(), record_id),
            )
            self._ws.audit.append("save", record_id=record_id, form_id=form_id)

    def finalize(self, record_id: str, *, answers: Mapping[str, str]) -> Record:
        """Store the submission and make it immutable (sync seals it, ``unsealed()``).

        An edit's submission also names the instanceID it replaces (``meta/deprecatedID``).
        """
        with self._db.transaction():
            form_id = self._require_draft(record_id)
            encoded = _clean_answers(self._with_deprecated_id(record_id, answers))
            now = utc_text()
            self._db.execute(
                "UPDATE records SET answers = ?, status = 'finalized', updated_at = ?, "
                "finalized_at = ?, hlc = ? WHERE id = ?",
                (encoded, now, now, self._ws.clock.tick(), record_id),
            )
            self._ws.audit.append("finalize", record_id=record_id, form_id=form_id)
            # A photo taken again, or an answer cleared: the file it named goes too (issue 17).
            self._ws.attachments.prune(record_id, keep=answers.values())
            record = self.get(record_id)
        return record

    def add_finalized(
        self, *, form_id: str, form_version: str, answers: Mapping[str, str]
    ) -> Record:
        """A finalized record made whole at once, of a form fieldkit defines itself (a case
        event): no form definition is needed; sealed at sync like any other record."""
        now = utc_text()
        record_id = _uuid4()
        encoded = _clean_answers(answers)
        with self._db.transaction():
            self._db.execute(
                _INSERT,
                (
                    record_id,
                    form_id,
                    form_version,
                    "finalized",
                    None,
                    None,
                    now,
                    now,
                    now,
                    encoded,
                    "local",
                    self._ws.device_id,
                    utc_day(),
                    self._ws.clock.tick(),
                    None,
                ),
            )
            self._ws.audit.append("finalize", record_id=record_id, form_id=form_id)
            record = self.get(record_id)
        return record

    def replace(self, record_id: str) -> Record:
        """A new draft naming ``record_id`` as the one it replaces, starting from its answers."""
        old = self.get(record_id)
        if old.status == "draft":
            raise RecordError(f"record {record_id} is a draft: change it instead of replacing it")
        answers = dict(old.answers)
        for path in _instance_id_paths(answers):
            # ODK gives an edit its own instanceID; the old one becomes its deprecatedID
            # (OpenRosa metadata spec), written at finalize.
            answers[path] = f"uuid:{_uuid4()}"
        return self.create_draft(
            form_id=old.form_id,
            form_version=old.form_version,
            replaces=old.id,
            case_id=old.case_id,
            answers=answers,
        )

    def discard(self, record_id: str) -> None:
        """Delete a draft (finalized records are immutable and cannot be discarded)."""
        with self._db.transaction():
            form_id = self._require_draft(record_id)
            self._db.execute("DELETE FROM records WHERE id = ?", (record_id,))
            self._ws.attachments.prune(record_id, keep=())
            self._ws.audit.append("discard", record_id=record_id, form_id=form_id)

    # -- reading -----------------------------------------------------------------------------

    def get(self, record_id: str) -> Record:
        """One record; ``RecordNotFound`` when there is none with that id."""
        row = self._db.one(_SELECT + " WHERE id = ?", (record_id,))
        if row is None:
            raise RecordNotFound(f"no record {record_id} in this workspace")
        return _row_to_record(row)

    def list(
        self, *, status: str | None = None, form_id: str | None = None
    ) -> builtins.list[Record]:
        """Records, oldest first, optionally of one status and/or form."""
        where, params = [], []
        if status is not None:
            if status not in ("draft", "finalized", "sent"):
                raise RecordError(f"unknown status {status!r}: draft, finalized or sent")
            where.append("status = ?")
            params.append(status)
        if form_id is not None:
            where.append("form_id = ?")
            params.append(form_id)
        sql = _SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [
            _row_to_record(r) for r in self._db.all(sql + " ORDER BY created_at, rowid", params)
        ]

    def received_count(self) -> int:
        """How many records this workspace holds that a pull (or a coordinator's sync) took in."""
        return int(self._db.scalar("SELECT COUNT(*) FROM records WHERE origin = 'received'") or 0)

    # -- sealing and sync --------------------------------------------------------------------

    def set_envelope(self, record_id: str, envelope: bytes) -> None:
        """Keep the sealed envelope of a finalized record until sync sends it."""
        with self._db.transaction():
            record = self.get(record_id)
            if record.status == "draft":
                raise RecordError(
                    f"record {record_id} is a draft: only finalized records are sealed"
                )
            self._db.execute(
                "INSERT INTO envelopes (record_id, envelope, sealed_at, sent_at) "
                "VALUES (?, ?, ?, NULL) ON CONFLICT (record_id) DO UPDATE SET "
                "envelope = excluded.envelope, sealed_at = excluded.sealed_at, sent_at = NULL",
                (record_id, bytes(envelope), utc_text()),
            )
            self._ws.audit.append("seal", record_id=record_id, form_id=record.form_id)

    def unsealed(self) -> builtins.list[Record]:
        """Finalized records made on this device that have no envelope yet."""
        rows = self._db.all(_SELECT_UNSEALED)
        return [_row_to_record(r) for r in rows]

    def unsent(self, limit: int | None = None) -> builtins.list[StoredEnvelope]:
        """Envelopes not yet acknowledged by the server, oldest first (all when no limit)."""
        rows = self._db.all(
            "SELECT record_id, envelope, sealed_at, sent_at FROM envelopes WHERE sent_at IS NULL "
            "ORDER BY sealed_at, rowid LIMIT ?",
            (-1 if limit is None else int(limit),),
        )
        return [StoredEnvelope(r[0], bytes(r[1]), r[2], r[3]) for r in rows]

    def mark_sent(self, record_ids: Iterable[str], *, by: str = "sync") -> None:
        """Record that the server (``by="sync"``) or a coordinator's receipt (``"bundle"``)
        acknowledged these envelopes; their records become ``sent``."""
        with self._db.transaction():
            now = utc_text()
            for record_id in record_ids:
                changed = self._db.execute(
                    "UPDATE envelopes SET sent_at = ?, delivered_by = ? "
                    "WHERE record_id = ? AND sent_at IS NULL",
                    (now, by, record_id),
                )
                if changed:
                    self._db.execute(
                        "UPDATE records SET status = 'sent', updated_at = ? WHERE id = ?",
                        (now, record_id),
                    )
                    self._ws.audit.append("send", record_id=record_id)

    def envelope(self, record_id: str) -> StoredEnvelope | None:
        """The sealed envelope of a record, if it has one."""
        row = self._db.one(
            "SELECT record_id, envelope, sealed_at, sent_at FROM envelopes WHERE record_id = ?",
            (record_id,),
        )
        return StoredEnvelope(row[0], bytes(row[1]), row[2], row[3]) if row else None

    def devices_of(self, record_ids: Iterable[str]) -> dict[str, str]:
        """Record id → the device that made it, for those of ``record_ids`` held here."""
        ids = builtins.list(record_ids)
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.all(
                f"SELECT id, device FROM records WHERE id IN ({marks})",  # noqa: S608 (only ?s)
                chunk,
            )
            out.update((str(r[0]), str(r[1])) for r in rows)
        return out

    def delivered_by(self) -> dict[str, str]:
        """How each delivered record left: record id → ``sync`` or ``bundle``."""
        rows = self._db.all(
            "SELECT record_id, COALESCE(delivered_by, 'sync') FROM envelopes "
            "WHERE sent_at IS NOT NULL"
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def import_received(
        self,
        *,
        record_id: str,
        form_id: str,
        form_version: str,
        answers: Mapping[str, str],
        device: str,
        capture_day: str,
        finalized_at: str,
        replaces: str | None = None,
        case_id: str | None = None,
        hlc: str | None = None,
        received_at: str | None = None,
    ) -> Record:
        """Store a record pulled and opened on the coordinator's side; idempotent by id.

        ``received_at`` is the server's receipt time (ISO 8601 UTC text) when the pull knows it.
        """
        encoded = _clean_answers(answers)
        with self._db.transaction():
            now = utc_text()
            # One statement for "insert unless present": bulk pulls stay a single write each.
            inserted = self._db.execute(
                _INSERT_IF_NEW,
                (
                    record_id,
                    form_id,
                    form_version,
                    "finalized",
                    replaces,
                    case_id,
                    now,
                    now,
                    finalized_at,
                    encoded,
                    "received",
                    device,
                    capture_day,
                    hlc,
                    received_at,
                ),
            )
            if not inserted:
                return self.get(record_id)
            self._ws.audit.append("import", record_id=record_id, form_id=form_id)
        return Record(
            record_id,
            form_id,
            form_version,
            "finalized",
            replaces,
            case_id,
            now,
            now,
            finalized_at,
            dict(answers),
            "received",
            device,
            capture_day,
            hlc,
            received_at,
        )

    def import_many(self, items: Iterable[Mapping[str, Any]]) -> int:
        """The bulk form of ``import_received``: each item holds its keyword arguments.

        One transaction and a few statements for the lot; records already here (by id) are
        left as they are. Returns how many were new.
        """
        fields = (
            "record_id",
            "form_id",
            "form_version",
            "answers",
            "device",
            "capture_day",
            "finalized_at",
        )
        rows: dict[str, tuple[Any, ...]] = {}
        now = utc_text()
        for item in items:
            missing = [name for name in fields if name not in item]
            if missing:
                raise TypeError(f"import_many item lacks {', '.join(missing)}")
            record_id = str(item["record_id"])
            if record_id in rows:
                continue
            rows[record_id] = (
                record_id,
                item["form_id"],
                item["form_version"],
                "finalized",
                item.get("replaces"),
                item.get("case_id"),
                now,
                now,
                item["finalized_at"],
                _clean_answers(item["answers"]),
                "received",
                item["device"],
                item["capture_day"],
                item.get("hlc"),
                item.get("received_at"),
            )
        with self._db.transaction():
            ids = builtins.list(rows)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for (present,) in self._db.all(
                    f"SELECT id FROM records WHERE id IN ({marks})",  # noqa: S608 (only ?s)
                    chunk,
                ):
                    rows.pop(present, None)
            new_rows = builtins.list(rows.values())
            self._db.executemany(_INSERT, new_rows)
            self._ws.audit.append_many([("import", row[0], row[1]) for row in new_rows])
        return len(new_rows)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many calls, one transaction: all of them are saved (durably, at the end) or none."""
        with self._db.transaction():
            yield

    # -- inside ------------------------------------------------------------------------------

    def _require(self, record_id: str) -> tuple[str, str]:
        row = self._db.one("SELECT status, form_id FROM records WHERE id = ?", (record_id,))
        if row is None:
            raise RecordNotFound(f"no record {record_id} in this workspace")
        return str(row[0]), str(row[1])

    def _require_draft(self, record_id: str) -> str:
        status, form_id = self._require(record_id)
        if status != "draft":
            raise RecordImmutable(
                f"record {record_id} is {status} and cannot change: `fieldkit records edit` "
                "makes a new version"
            )
        return form_id

    def _with_deprecated_id(self, record_id: str, answers: Mapping[str, str]) -> Mapping[str, str]:
        row = self._db.one("SELECT replaces FROM records WHERE id = ?", (record_id,))
        replaced = row[0] if row else None
        paths = _instance_id_paths(answers)
        if not replaced or not paths:
            return answers
        old = self._db.one("SELECT answers FROM records WHERE id = ?", (replaced,))
        before = json.loads(old[0]) if old else {}
        out = dict(answers)
        for path in paths:
            if before.get(path):
                out[path.rsplit("/", 1)[0] + "/deprecatedID"] = str(before[path])
        return out
