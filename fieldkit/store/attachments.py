"""Attachments in the encrypted workspace: the bytes of photos, recordings and files.

DESIGN §6a. A file an answer names is copied here in chunks (rows of ``attachment_chunks``,
inside SQLCipher like everything else), never left as a path on the laptop's disk; the answer
holds only the attachment's ``name`` (random hex and an extension: nothing of the original
file name). A copy is one transaction: a crash mid-copy leaves nothing, and the answer is set
only after the copy committed, so no half file is ever counted as answered.

Sealing keeps the data key, header and signature of the sealed stream here (never the sealed
bytes: they are regenerated, byte for byte, from the chunks; ``fieldkit.crypto.attachment``).
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fieldkit.clock import utc_text
from fieldkit.errors import AttachmentError, RecordNotFound
from fieldkit.store._db import Database

__all__ = ["Attachment", "Attachments", "SealedParts"]

_COLUMNS = (
    "id, name, record_id, form_id, question, kind, content_type, size, sha256, chunk_size, "
    "origin, device, stripped, created_at, complete, sealed_sha256, sealed_size, sent_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM attachments"  # noqa: S608 - our own column names


@dataclass(frozen=True)
class Attachment:
    """One attachment's description (its bytes are read with ``Attachments.chunks``)."""

    id: str
    name: str  # what the answer holds
    record_id: str | None
    form_id: str | None  # form media: the form whose labels show it
    question: str  # instance path of the question (form media: the file name the form uses)
    kind: str  # image audio video file, or form-media
    content_type: str
    size: int
    sha256: str  # of the plaintext, hex
    chunk_size: int
    origin: str  # local | received | form
    device: str
    stripped: bool  # identifying metadata was removed on the way in
    created_at: str
    complete: bool  # False: a received record names it, its bytes have not arrived yet
    sealed_sha256: str | None
    sealed_size: int | None
    sent_at: str | None

    def summary(self) -> dict[str, Any]:
        """JSON-ready, without digests."""
        return {
            "name": self.name,
            "question": self.question,
            "kind": self.kind,
            "content_type": self.content_type,
            "size": self.size,
            "stripped": self.stripped,
            "complete": self.complete,
        }


@dataclass(frozen=True)
class SealedParts:
    """What regenerates an attachment's sealed stream: header bytes, data key, signature."""

    header: bytes
    data_key: bytes
    signature: bytes


def _row(row: tuple[Any, ...]) -> Attachment:
    values = list(row)
    values[12] = bool(values[12])
    values[14] = bool(values[14])
    return Attachment(*values)


def new_attachment_id() -> str:
    """A random id: 32 hex digits, nothing about the file, the person or the laptop."""
    return secrets.token_hex(16)


class Attachments:
    """``ws.attachments``."""

    def __init__(self, db: Database, *, device: str) -> None:
        self._db = db
        self._device = device

    # -- in ----------------------------------------------------------------------------------

    def add(
        self,
        pieces: Iterable[bytes],
        *,
        record_id: str | None,
        question: str,
        kind: str,
        content_type: str,
        extension: str,
        chunk_size: int,
        stripped: bool,
        origin: str = "local",
        form_id: str | None = None,
        limit: int | None = None,
    ) -> Attachment:
        """Copy ``pieces`` (the file's bytes, in order) into the workspace in one transaction.

        ``limit``: the most bytes accepted (``AttachmentError`` past it, nothing kept).
        """
        attachment_id = new_attachment_id()
        name = f"{attachment_id}{extension}"
        digest = hashlib.sha256()
        size = 0
        seq = 0
        buffer = bytearray()
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO attachments (id, name, record_id, form_id, question, kind, "
                "content_type, size, sha256, chunk_size, origin, device, stripped, created_at, "
                "complete) VALUES (?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, ?, ?, ?, 1)",
                (
                    attachment_id,
                    name,
                    record_id,
                    form_id,
                    question,
                    kind,
                    content_type,
                    chunk_size,
                    origin,
                    self._device,
                    int(stripped),
                    utc_text(),
                ),
            )
            for piece in pieces:
                size += len(piece)
                if limit is not None and size > limit:
                    raise AttachmentError(f"the file is larger than the limit of {_mb(limit)}")
                digest.update(piece)
                buffer += piece
                while len(buffer) >= chunk_size:
                    self._put_chunk(attachment_id, seq, bytes(buffer[:chunk_size]))
                    del buffer[:chunk_size]
                    seq += 1
            if buffer:
                self._put_chunk(attachment_id, seq, bytes(buffer))
            if size == 0:
                raise AttachmentError("the file is empty (0 bytes)")
            self._db.execute(
                "UPDATE attachments SET size = ?, sha256 = ? WHERE id = ?",
                (size, digest.hexdigest(), attachment_id),
            )
        return self.get(attachment_id)

    def _put_chunk(self, attachment_id: str, seq: int, data: bytes) -> None:
        self._db.execute(
            "INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES (?, ?, ?)",
            (attachment_id, seq, data),
        )

    def expect(
        self,
        *,
        attachment_id: str,
        name: str,
        record_id: str,
        question: str,
        kind: str,
        content_type: str,
        size: int,
        sha256: str,
        sealed_sha256: str,
        sealed_size: int,
        device: str,
    ) -> bool:
        """Coordinator: a received record names this attachment; its bytes come later.
        Idempotent by id; True when it was new."""
        with self._db.transaction():
            changed = self._db.execute(
                "INSERT INTO attachments (id, name, record_id, form_id, question, kind, "
                "content_type, size, sha256, chunk_size, origin, device, stripped, created_at, "
                "complete, sealed_sha256, sealed_size) VALUES "
                "(?, ?, ?, NULL, ?, ?, ?, ?, ?, 0, 'received', ?, 0, ?, 0, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (
                    attachment_id,
                    name,
                    record_id,
                    question,
                    kind,
                    content_type,
                    size,
                    sha256,
                    device,
                    utc_text(),
                    sealed_sha256,
                    sealed_size,
                ),
            )
        return changed > 0

    def fill(self, attachment_id: str, chunks: Iterable[bytes]) -> None:
        """Store the decrypted chunks of an expected attachment in one transaction (an error
        from ``chunks`` — it did not verify — leaves it expected, nothing kept)."""
        from fieldkit.errors import CryptoError

        digest = hashlib.sha256()
        size = 0
        chunk_size = 0
        with self._db.transaction():
            self._db.execute(
                "DELETE FROM attachment_chunks WHERE attachment_id = ?", (attachment_id,)
            )
            for seq, chunk in enumerate(chunks):
                digest.update(chunk)
                size += len(chunk)
                chunk_size = chunk_size or len(chunk)
                self._put_chunk(attachment_id, seq, chunk)
            found = self.get(attachment_id)
            if size != found.size or digest.hexdigest() != found.sha256:
                raise CryptoError("the attachment is not the one its record names")
            self._db.execute(
                "UPDATE attachments SET complete = 1, chunk_size = ? WHERE id = ?",
                (chunk_size, attachment_id),
            )

    # -- reading -----------------------------------------------------------------------------

    def get(self, attachment_id: str) -> Attachment:
        """The attachment with this id (``RecordNotFound`` when there is none)."""
        row = self._db.one(_SELECT + " WHERE id = ?", (attachment_id,))
        if row is None:
            raise RecordNotFound("no such attachment in this workspace")
        return _row(tuple(row))

    def named(self, name: str) -> Attachment | None:
        """The attachment an answer names, or None."""
        row = self._db.one(_SELECT + " WHERE name = ?", (name,))
        return _row(tuple(row)) if row is not None else None

    def for_record(self, record_id: str) -> builtins.list[Attachment]:
        """Attachments captured for (or received with) a record, oldest first."""
        rows = self._db.all(
            _SELECT + " WHERE record_id = ? ORDER BY created_at, rowid", (record_id,)
        )
        return [_row(tuple(r)) for r in rows]

    def of_form(self, form_id: str) -> builtins.list[Attachment]:
        """The form media stored for ``form_id``."""
        rows = self._db.all(
            _SELECT + " WHERE form_id = ? AND origin = 'form' ORDER BY rowid", (form_id,)
        )
        return [_row(tuple(r)) for r in rows]

    def chunks(self, attachment_id: str) -> Iterator[bytes]:
        """The plaintext, one chunk at a time (one row in memory at once)."""
        seq = 0
        while True:
            data = self.chunk(attachment_id, seq)
            if data is None:
                return
            yield data
            seq += 1

    def chunk(self, attachment_id: str, seq: int) -> bytes | None:
        """One chunk of the plaintext, or None past the end."""
        row = self._db.one(
            "SELECT data FROM attachment_chunks WHERE attachment_id = ? AND seq = ?",
            (attachment_id, seq),
        )
        return bytes(row[0]) if row is not None else None

    def incomplete(self) -> builtins.list[Attachment]:
        """Coordinator: attachments named by received records whose bytes have not arrived."""
        rows = self._db.all(_SELECT + " WHERE complete = 0 ORDER BY rowid")
        return [_row(tuple(r)) for r in rows]

    # -- sealing and sending -----------------------------------------------------------------

    def sealed_parts(self, attachment_id: str) -> SealedParts | None:
        """The header, data key and signature of its sealed stream, or None if not sealed."""
        row = self._db.one(
            "SELECT header, data_key, signature FROM attachments WHERE id = ? "
            "AND header IS NOT NULL",
            (attachment_id,),
        )
        if row is None:
            return None
        return SealedParts(bytes(row[0]), bytes(row[1]), bytes(row[2]))

    def set_sealed(
        self,
        attachment_id: str,
        *,
        parts: SealedParts,
        sealed_sha256: str,
        sealed_size: int,
    ) -> None:
        """Keep what regenerates the sealed stream (once: a sealed stream never changes)."""
        with self._db.transaction():
            self._db.execute(
                "UPDATE attachments SET header = ?, data_key = ?, signature = ?, "
                "sealed_sha256 = ?, sealed_size = ? WHERE id = ? AND header IS NULL",
                (
                    parts.header,
                    parts.data_key,
                    parts.signature,
                    sealed_sha256,
                    sealed_size,
                    attachment_id,
                ),
            )

    def unsent(self) -> builtins.list[Attachment]:
        """Sealed local attachments the server has not acknowledged whole, oldest first."""
        rows = self._db.all(
            _SELECT + " WHERE origin = 'local' AND header IS NOT NULL AND sent_at IS NULL "
            "ORDER BY created_at, rowid"
        )
        return [_row(tuple(r)) for r in rows]

    def mark_sent(self, attachment_id: str) -> None:
        """The server holds the whole sealed stream."""
        with self._db.transaction():
            self._db.execute(
                "UPDATE attachments SET sent_at = ? WHERE id = ?", (utc_text(), attachment_id)
            )

    # -- removal -----------------------------------------------------------------------------

    def delete(self, attachment_id: str) -> None:
        """Remove an attachment and its bytes (freed pages are zeroed: secure_delete)."""
        with self._db.transaction():
            self._db.execute(
                "DELETE FROM attachment_chunks WHERE attachment_id = ?", (attachment_id,)
            )
            self._db.execute("DELETE FROM attachments WHERE id = ?", (attachment_id,))

    def prune(self, record_id: str, *, keep: Iterable[str]) -> int:
        """Delete the attachments captured for a record that its answers no longer name
        (a photo taken again, a question made non-relevant); returns how many."""
        kept = set(keep)
        gone = [
            a.id for a in self.for_record(record_id) if a.origin == "local" and a.name not in kept
        ]
        for attachment_id in gone:
            self.delete(attachment_id)
        return len(gone)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"
