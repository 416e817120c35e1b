"""Attachments on their way: sealed at sync, pushed resumably, fetched and opened by a
coordinator (DESIGN §6a, issue 17).

A record's attachments are sealed just before the record (its body then names each by the
SHA-256 of its sealed stream, under the record's own signature). The sealed stream is never
stored: ``sealed_bytes`` regenerates it, byte for byte, from the chunks and what sealing kept.
A push asks the server how much it holds and sends the rest in parts; a cut at any byte costs
at most the part in flight. A coordinator's pull registers what each record names, fetches
the sealed bytes into a spool file of ciphertext (resumed from its length after a cut), then
verifies and decrypts them into its workspace in one transaction.

The small API other transports use (bundles carry attachments exactly as a push sends them):
``pending_attachments(ws, record_id)``, ``sealed_bytes(ws, attachment_id, start=0)``,
``take_sealed(ws, stream, attachment, verify_key=, private_keys=, project_id=)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from fieldkit.crypto.attachment import (
    AttachmentSealer,
    new_sealer,
    open_attachment,
    sealer_for,
)
from fieldkit.errors import CryptoError, ProtocolError, RecordNotFound
from fieldkit.store.attachments import Attachment, SealedParts

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    from fieldkit.exchange._state import Enrolment
    from fieldkit.store import Record, Workspace
    from sync.client import SyncClient

__all__ = [
    "PART_BYTES",
    "AttachmentTransfer",
    "descriptors",
    "fetch_attachments",
    "pending_attachments",
    "push_attachments",
    "register_expected",
    "seal_attachments",
    "sealed_bytes",
    "take_sealed",
]

PART_BYTES = 1024 * 1024  # sealed bytes per request, either way (4 MiB parts held ~110 MB)
_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,8}$")
_SPOOL = "incoming"


@dataclass
class AttachmentTransfer:
    """What a push or a fetch of attachments did."""

    files: int = 0  # attachments completed by this run
    bytes: int = 0  # sealed bytes sent or received by this run
    resumed: int = 0  # uploads or downloads that continued where an earlier one stopped
    refused: list[str] = field(default_factory=list)  # why, one per attachment
    waiting: int = 0  # still to go (a coordinator: not complete on the server yet)


def _named(ws: Workspace, record: Record) -> list[tuple[str, Attachment]]:
    """(answer path, attachment) for every answer of ``record`` naming an attachment here."""
    found = []
    for path, value in record.answers.items():
        if value and _NAME.match(value):
            attachment = ws.attachments.named(value)
            if attachment is not None and attachment.origin == "local":
                found.append((path, attachment))
    return found


def seal_attachments(
    ws: Workspace, info: Enrolment, record: Record, keys: Sequence[X25519PublicKey]
) -> None:
    """Seal every attachment ``record`` names that is not sealed yet (to ``keys`` and this
    device's own key), inside the caller's transaction."""
    device = ws.device
    for _, attachment in _named(ws, record):
        if ws.attachments.sealed_parts(attachment.id) is not None:
            continue
        sealer, data_key = new_sealer(
            attachment_id=attachment.id,
            project_id=info.project_id,
            device_id=info.device_id,
            size=attachment.size,
            recipients=[*keys, device.x25519.public_key()],
            chunk_size=attachment.chunk_size,
        )
        whole = hashlib.sha256(sealer.header.prefix)
        signature = sealer.signature(
            _sealed_chunks(ws, sealer, attachment.id, whole), signing_key=device.ed25519
        )
        whole.update(signature)
        ws.attachments.set_sealed(
            attachment.id,
            parts=SealedParts(sealer.header.raw, data_key, signature),
            sealed_sha256=whole.hexdigest(),
            sealed_size=sealer.header.sealed_size,
        )


def _sealed_chunks(
    ws: Workspace, sealer: AttachmentSealer, attachment_id: str, whole: Any
) -> Iterator[bytes]:
    """Seal the stored chunks in order, adding each to the digest of the whole stream."""
    for index, plain in enumerate(ws.attachments.chunks(attachment_id)):
        sealed = sealer.chunk(index, plain)
        whole.update(sealed)
        yield sealed


def descriptors(ws: Workspace, record: Record) -> list[dict[str, Any]]:
    """What the record's sealed body says of each attachment it names (after sealing)."""
    out = []
    for path, attachment in _named(ws, record):
        sealed = ws.attachments.get(attachment.id)
        if sealed.sealed_sha256 is None:
            continue
        out.append(
            {
                "id": sealed.id,
                "name": sealed.name,
                "question": path,
                "kind": sealed.kind,
                "content_type": sealed.content_type,
                "size": sealed.size,
                "sha256": sealed.sha256,
                "sealed_sha256": sealed.sealed_sha256,
                "sealed_size": sealed.sealed_size,
            }
        )
    return out


def pending_attachments(ws: Workspace, record_id: str) -> list[Attachment]:
    """The sealed attachments a record names that the server has not acknowledged whole."""
    record = ws.records.get(record_id)
    names = {a.id for _, a in _named(ws, record)}
    return [a for a in ws.attachments.unsent() if a.id in names]


def sealed_bytes(ws: Workspace, attachment_id: str, start: int = 0) -> Iterator[bytes]:
    """The sealed stream of a local attachment from byte ``start`` on, regenerated piece by
    piece (header, chunks, signature: what a push sends and a bundle carries)."""
    parts = ws.attachments.sealed_parts(attachment_id)
    if parts is None:
        raise CryptoError("the attachment is not sealed yet")
    sealer = sealer_for(parts.header, parts.data_key)
    header = sealer.header
    prefix = header.prefix
    position = 0
    if start < len(prefix):
        yield prefix[start:]
    position = len(prefix)
    stride = header.chunk_size + 16
    first = max(0, (start - position) // stride)
    position += first * stride
    for index in range(first, header.chunks):
        length = header.chunk_length(index) + 16
        if position + length > start:
            plain = _chunk(ws, attachment_id, index)
            sealed = sealer.chunk(index, plain)
            yield sealed[max(0, start - position) :]
        position += length
    yield parts.signature[max(0, start - position) :]


def _chunk(ws: Workspace, attachment_id: str, index: int) -> bytes:
    row = ws.attachments.chunk(attachment_id, index)
    if row is None:
        raise CryptoError("the attachment's bytes are missing from the workspace")
    return row


def _parts(pieces: Iterator[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def push_attachments(
    ws: Workspace,
    client: SyncClient,
    *,
    report: Any = None,
    part_bytes: int = PART_BYTES,
) -> AttachmentTransfer:
    """Send every sealed, unacknowledged attachment from where the server's copy ends."""
    summary = AttachmentTransfer()
    unsent = ws.attachments.unsent()
    total = sum(a.sealed_size or 0 for a in unsent)
    done = 0
    if report is not None and unsent:
        report("files", 0, total)
    for attachment in unsent:
        size = attachment.sealed_size or 0
        held = client.attachment_status(attachment.id)
        if 0 < held < size:
            summary.resumed += 1
        while held < size:
            piece = next(_parts(sealed_bytes(ws, attachment.id, held), part_bytes))
            now_held = client.push_attachment_part(attachment.id, offset=held, data=piece)
            if now_held > size or now_held < 0:
                raise ProtocolError("the server holds more of an attachment than was sent")
            if now_held <= held and now_held != 0:
                raise ProtocolError("the server does not take the attachment's next part")
            if now_held > held:
                summary.bytes += now_held - held
            done += max(0, now_held - held)
            held = now_held
            if report is not None:
                report("files", done, total)
        ws.attachments.mark_sent(attachment.id)
        summary.files += 1
    return summary


def register_expected(ws: Workspace, *, record_id: str, device_id: str, items: Any) -> int:
    """Coordinator: note the attachments a received record names (inside the caller's
    transaction); returns how many. Malformed descriptions are skipped, never trusted."""
    if not isinstance(items, list):
        return 0
    count = 0
    for item in items[:1000]:
        try:
            attachment_id = str(item["id"])
            name = str(item["name"])
            if not re.fullmatch(r"[0-9a-f]{32}", attachment_id) or not _NAME.match(name):
                continue
            if not name.startswith(attachment_id):
                continue
            ws.attachments.expect(
                attachment_id=attachment_id,
                name=name,
                record_id=record_id,
                question=str(item["question"])[:500],
                kind=str(item["kind"])[:16],
                content_type=str(item["content_type"])[:100],
                size=int(item["size"]),
                sha256=str(item["sha256"]),
                sealed_sha256=str(item["sealed_sha256"]),
                sealed_size=int(item["sealed_size"]),
                device=device_id,
            )
            count += 1
        except (KeyError, TypeError, ValueError):
            continue
    return count


def take_sealed(
    ws: Workspace,
    stream: IO[bytes],
    attachment: Attachment,
    *,
    verify_key: Ed25519PublicKey,
    private_keys: Mapping[str, X25519PrivateKey],
    project_id: str,
) -> None:
    """Verify and decrypt a sealed stream for an expected attachment into the workspace, in
    one transaction: a stream that does not verify leaves nothing (``CryptoError``)."""
    if attachment.sealed_sha256 is None:
        raise CryptoError("the record does not name this attachment's digest")
    chunks = open_attachment(
        stream,
        private_keys=private_keys,
        verify_key=verify_key,
        expected_sha256=bytes.fromhex(attachment.sealed_sha256),
        project_id=project_id,
        device_id=attachment.device,
        attachment_id=attachment.id,
    )
    ws.attachments.fill(attachment.id, chunks)


def fetch_attachments(
    ws: Workspace,
    client: SyncClient,
    *,
    verify_key: Any,
    private_keys: Mapping[str, X25519PrivateKey],
    project_id: str,
    report: Any = None,
    part_bytes: int = PART_BYTES,
) -> AttachmentTransfer:
    """Coordinator: fetch, verify and open every attachment a received record names and
    that is not here yet. ``verify_key(device_id)`` gives the device's certified key (or
    None: its records are held, so are its attachments)."""
    summary = AttachmentTransfer()
    waiting = ws.attachments.incomplete()
    spool = ws.home / _SPOOL
    total = sum(a.sealed_size or 0 for a in waiting)
    done = 0
    for attachment in waiting:
        key = verify_key(attachment.device)
        if key is None:
            summary.waiting += 1
            continue
        size = attachment.sealed_size or 0
        spool.mkdir(mode=0o700, exist_ok=True)
        # Ciphertext only, named by the random id: nothing in it or its name is readable.
        part = spool / f"{attachment.id}.part"
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        if have:
            summary.resumed += 1
        try:
            with part.open("ab") as out:
                while have < size:
                    piece = client.attachment_piece(
                        attachment.device,
                        attachment.id,
                        offset=have,
                        length=min(part_bytes, size - have),
                    )
                    out.write(piece)
                    out.flush()
                    have += len(piece)
                    summary.bytes += len(piece)
                    done += len(piece)
                    if report is not None:
                        report("files", done, total)
                os.fsync(out.fileno())
        except ProtocolError as exc:
            if "not all of it has arrived" in str(exc) or "no such attachment" in str(exc):
                summary.waiting += 1
                continue
            # The server's copy is not the length its record names: spoiled or cut short.
            summary.refused.append("the server's copy is not the one its record names")
            part.unlink()
            continue
        try:
            with part.open("rb") as stream:
                take_sealed(
                    ws,
                    stream,
                    attachment,
                    verify_key=key,
                    private_keys=private_keys,
                    project_id=project_id,
                )
        except CryptoError as exc:
            summary.refused.append(str(exc))
            part.unlink()  # fetched again next time: the server may have been spoiling it
            continue
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        summary.files += 1
    return summary


class AttachmentSection:
    """The attachments of a bundle's records (the bundle ``Section`` of kind ``attachment``):
    each payload is the attachment's id, a newline, then its sealed stream — the bytes a push
    sends part by part. A coordinator verifies and opens it as its pull would; a laptop that
    cannot read records (a relay) leaves it on the field laptop, which sends it itself."""

    kind = "attachment"

    def export(self, ws: Workspace, *, record_ids: Sequence[str]) -> Iterator[bytes]:
        for record_id in record_ids:
            for attachment in pending_attachments(ws, record_id):
                yield attachment.id.encode("ascii") + b"\n" + b"".join(
                    sealed_bytes(ws, attachment.id)
                )

    def take(self, ws: Workspace, payload: bytes, *, signer: str) -> bool:
        from fieldkit.crypto.envelope import keys_by_id
        from fieldkit.exchange.joining import require_trust

        head, _, sealed = payload.partition(b"\n")
        attachment_id = head.decode("ascii", errors="replace")
        if not re.fullmatch(r"[0-9a-f]{32}", attachment_id):
            raise CryptoError("this bundle carries a malformed attachment; nothing was imported")
        info, trust = require_trust(ws)
        if not info.is_coordinator:
            return False
        try:
            attachment = ws.attachments.get(attachment_id)
        except RecordNotFound:
            return False  # no record here names it (its record was refused or erased)
        if attachment.complete or attachment.origin != "received":
            return False
        if attachment.device != signer:
            raise CryptoError(
                "this bundle carries another device's attachment; nothing was imported"
            )
        key = trust.device_key(signer)
        private = keys_by_id(trust.private_keys())
        if key is None or not private:
            return False
        take_sealed(
            ws,
            io.BytesIO(sealed),
            attachment,
            verify_key=key,
            private_keys=private,
            project_id=info.project_id,
        )
        return True
