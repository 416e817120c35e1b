"""Sealed attachments, stored blind (DESIGN §6a, issue 17).

A device uploads an attachment's sealed stream (``fieldkit.crypto.attachment``) in parts, each
appended only at the offset the server already holds, so a cut connection resumes from the
last acknowledged byte and a retried part is never stored twice. The first part carries the
stream's clear header: its project, device and id must be the caller's and the URL's, and the
announced length must fit the device's quota. The server never holds a key that opens an
attachment, and a coordinator checks the device's signature and the digest its record names,
so a breached server can only withhold or spoil one, never swap or forge it.

Ids are scoped per device, as record ids are. Parts live in their own rows: neither an upload
nor a download holds more than one part of a stream in memory.
"""

from __future__ import annotations

import io

from sqlalchemy import Connection, Engine, func, insert, select, update

from fieldkit.errors import CryptoError
from sync.protocol import AttachmentData, AttachmentStatus, b64decode, b64encode
from sync.server.auth import Caller, now
from sync.server.errors import BadRequest, NotFound, PayloadTooLarge
from sync.server.retry import in_transaction
from sync.server.schema import attachment_parts, attachments
from sync.server.settings import ServerSettings

__all__ = ["append_part", "read_piece", "status"]


def _row(conn: Connection, device_id: str, attachment_id: str, *, lock: bool = False) -> object:
    query = select(attachments).where(
        attachments.c.device_id == device_id, attachments.c.attachment_id == attachment_id
    )
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def status(engine: Engine, *, caller: Caller, attachment_id: str) -> AttachmentStatus:
    """What the server holds of one of the caller's own attachments (0 bytes when nothing)."""
    assert caller.device_id is not None
    with engine.connect() as conn:
        row = _row(conn, caller.device_id, attachment_id)
    if row is None:
        return AttachmentStatus(attachment_id=attachment_id, received=0)
    return AttachmentStatus(
        attachment_id=attachment_id,
        received=row.received,  # type: ignore[attr-defined]
        sealed_size=row.sealed_size,  # type: ignore[attr-defined]
        complete=row.completed_at is not None,  # type: ignore[attr-defined]
    )


def append_part(
    engine: Engine,
    *,
    caller: Caller,
    attachment_id: str,
    offset: int,
    data_b64: str,
    settings: ServerSettings,
) -> AttachmentStatus:
    """Store the bytes at ``offset`` if that is where the held stream ends; answer what is
    held either way (a part sent again after a cut is acknowledged, not stored twice)."""
    assert caller.device_id is not None and caller.project_id is not None
    device_id, project_id = caller.device_id, caller.project_id
    try:
        data = b64decode(data_b64)
    except ValueError:
        raise BadRequest("the part is not valid base64") from None
    if not data:
        raise BadRequest("an empty part")
    if len(data) > settings.max_attachment_part_bytes:
        raise PayloadTooLarge(f"a part over {settings.max_attachment_part_bytes} bytes")
    declared = _declared_size(data, attachment_id, caller) if offset == 0 else None

    def work(conn: Connection) -> AttachmentStatus:
        row = _row(conn, device_id, attachment_id, lock=True)
        if row is None:
            if offset != 0 or declared is None:
                return AttachmentStatus(attachment_id=attachment_id, received=0)
            used = conn.execute(
                select(func.coalesce(func.sum(attachments.c.sealed_size), 0)).where(
                    attachments.c.device_id == device_id
                )
            ).scalar_one()
            if int(used) + declared > settings.attachment_quota_bytes:
                raise PayloadTooLarge(
                    "this device's attachment quota on the server is used up "
                    f"({settings.attachment_quota_bytes} bytes)"
                )
            conn.execute(
                insert(attachments).values(
                    device_id=device_id,
                    attachment_id=attachment_id,
                    project_id=project_id,
                    sealed_size=declared,
                    received=0,
                    created_at=now(),
                )
            )
            received, sealed_size, done = 0, declared, False
        else:
            received = int(row.received)  # type: ignore[attr-defined]
            sealed_size = int(row.sealed_size)  # type: ignore[attr-defined]
            done = row.completed_at is not None  # type: ignore[attr-defined]
        if offset != received or done:
            return AttachmentStatus(
                attachment_id=attachment_id,
                received=received,
                sealed_size=sealed_size,
                complete=done,
            )
        if received + len(data) > sealed_size:
            raise BadRequest("the part runs past the end its header announced")
        conn.execute(
            insert(attachment_parts).values(
                device_id=device_id, attachment_id=attachment_id, offset=offset, data=data
            )
        )
        received += len(data)
        complete = received == sealed_size
        conn.execute(
            update(attachments)
            .where(
                attachments.c.device_id == device_id,
                attachments.c.attachment_id == attachment_id,
            )
            .values(received=received, completed_at=now() if complete else None)
        )
        return AttachmentStatus(
            attachment_id=attachment_id,
            received=received,
            sealed_size=sealed_size,
            complete=complete,
        )

    return in_transaction(engine, work)


def _declared_size(data: bytes, attachment_id: str, caller: Caller) -> int:
    """The sealed length the stream's header announces, after checking it is the caller's."""
    from fieldkit.crypto.attachment import read_header

    try:
        header = read_header(io.BytesIO(data))
    except CryptoError:
        raise BadRequest("the first part does not start with a sealed attachment header") from None
    if header.attachment_id != attachment_id:
        raise BadRequest("the header names another attachment than the address")
    if header.device_id != caller.device_id:
        raise BadRequest("device_id is not this device")
    if header.project_id != caller.project_id:
        raise BadRequest("project_id is not the project of this device")
    return header.sealed_size


def read_piece(
    engine: Engine,
    *,
    caller: Caller,
    device_id: str,
    attachment_id: str,
    offset: int,
    length: int,
) -> AttachmentData:
    """Coordinator: up to ``length`` bytes of a complete attachment from ``offset``."""
    with engine.connect() as conn:
        row = _row(conn, device_id, attachment_id)
        if (
            row is None
            or row.project_id != caller.project_id  # type: ignore[attr-defined]
            or row.completed_at is None  # type: ignore[attr-defined]
        ):
            raise NotFound("no such attachment, or not all of it has arrived yet")
        sealed_size = int(row.sealed_size)  # type: ignore[attr-defined]
        if offset >= sealed_size:
            raise BadRequest("offset past the end of the attachment")
        end = min(sealed_size, offset + length)
        first = conn.execute(
            select(func.max(attachment_parts.c.offset)).where(
                attachment_parts.c.device_id == device_id,
                attachment_parts.c.attachment_id == attachment_id,
                attachment_parts.c.offset <= offset,
            )
        ).scalar_one()
        out = bytearray()
        parts = conn.execute(
            select(attachment_parts.c.offset, attachment_parts.c.data)
            .where(
                attachment_parts.c.device_id == device_id,
                attachment_parts.c.attachment_id == attachment_id,
                attachment_parts.c.offset >= (first or 0),
                attachment_parts.c.offset < end,
            )
            .order_by(attachment_parts.c.offset)
        )
        for part_offset, data in parts:
            start = max(offset, part_offset) - part_offset
            stop = min(end, part_offset + len(data)) - part_offset
            out += data[start:stop]
    return AttachmentData(offset=offset, data=b64encode(bytes(out)), sealed_size=sealed_size)
