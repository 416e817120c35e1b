"""`POST /v1/push`: verify sealed envelopes and store each exactly once.

Exactly once under retries and concurrent identical pushes comes from the database, not from a
check-then-insert: `INSERT … ON CONFLICT (device_id, record_id) DO NOTHING RETURNING record_id`
inserts what is new, and whatever did not come back is compared by digest with what the table
holds (`duplicate` when equal, `conflict` otherwise — the stored original is never touched).

Record ids are scoped per device: every look-up here is within the pushing device's own rows,
so a push answer never tells a device whether another device used an id. A field device may
replace only its own records (coordinators check this again on their side, DESIGN §3).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from sync.protocol import (
    Envelope,
    PushResult,
    b64decode,
    canonical_envelope_bytes,
    canonical_header_bytes,
)
from sync.server.auth import Caller, now
from sync.server.feed import append_changes
from sync.server.retry import in_transaction
from sync.server.schema import envelopes
from sync.server.settings import ServerSettings
from sync.server.verify import Verifier

__all__ = ["push"]

_IN_CHUNK = 500


@dataclass
class _Item:
    index: int
    record_id: str
    body: bytes
    digest: bytes


def _check(
    env: Envelope, *, caller: Caller, max_bytes: int, header_bytes: bytes
) -> tuple[str | None, tuple[bytes, bytes]]:
    """Why this envelope is rejected (None if not yet) and the (signature, message) to verify.

    Reasons never quote the envelope's content.
    """
    header = env.header
    if header.project_id != caller.project_id:
        return "project_id is not the project of this device", _NOTHING
    if header.device_id != caller.device_id:
        return "device_id is not this device", _NOTHING
    try:
        raw = b64decode(env.ciphertext)
        signature = b64decode(env.signature)
        for recipient in header.recipients:
            b64decode(recipient.wrapped_key)
    except ValueError:
        return "invalid base64", _NOTHING
    if len(raw) < 12 + 16:  # a GCM nonce and tag at least
        return "ciphertext too short", _NOTHING
    if len(signature) != 64:
        return "signature must be 64 bytes", _NOTHING
    if len(raw) > max_bytes:
        return f"envelope larger than {max_bytes} bytes", _NOTHING
    if header.replaces is not None and header.replaces == header.record_id:
        return "a record cannot replace itself", _NOTHING
    # signed_bytes (sync.protocol): canonical header + SHA-256 of the raw ciphertext.
    return None, (signature, header_bytes + hashlib.sha256(raw).digest())


_NOTHING = (b"", b"")
_BAD_SIGNATURE = "signature does not verify with this device's key"


def push(
    engine: Engine,
    *,
    caller: Caller,
    batch: list[Envelope],
    settings: ServerSettings,
    verifier: Verifier | None = None,
) -> list[PushResult]:
    """Store a batch; one result per envelope in request order, committed before returning."""
    assert caller.ed25519 is not None and caller.project_id is not None
    project_id = caller.project_id
    limit = settings.max_envelope_bytes
    results: list[PushResult | None] = [None] * len(batch)
    pending: list[_Item] = []
    to_verify: list[tuple[bytes, bytes]] = []
    for i, env in enumerate(batch):
        header_bytes = canonical_header_bytes(env.header)
        reason, signed = _check(env, caller=caller, max_bytes=limit, header_bytes=header_bytes)
        body = b"" if reason else canonical_envelope_bytes(env, header_bytes=header_bytes)
        if not reason and len(body) > limit:
            reason = f"envelope larger than {limit} bytes"
        if reason:
            rid = env.header.record_id
            results[i] = PushResult(record_id=rid, status="rejected", reason=reason)
            continue
        pending.append(_Item(i, env.header.record_id, body, hashlib.sha256(body).digest()))
        to_verify.append(signed)
    # Against the Ed25519 key the device registered at enrolment, never a key in the request.
    verdicts = (verifier or Verifier(0)).verify(b64decode(caller.ed25519), to_verify)
    items: list[_Item] = []
    for item, ok in zip(pending, verdicts, strict=True):
        if ok:
            items.append(item)
        else:
            rid = item.record_id
            results[item.index] = PushResult(
                record_id=rid, status="rejected", reason=_BAD_SIGNATURE
            )

    # The first item of each record id is the one offered for insertion; repeats in the same
    # batch are judged against whatever ends up stored.
    first: dict[str, _Item] = {}
    for item in items:
        first.setdefault(item.record_id, item)
    # Sorted by record id so concurrent batches lock unique keys in one order (no deadlock).
    offered = sorted(first.values(), key=lambda it: it.record_id)
    stored: dict[str, bytes] = {}
    inserted: set[str] = set()

    if offered:
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        received = now()

        def work(conn: Connection) -> tuple[set[str], dict[str, bytes]]:
            got = set(conn.execute(stmt, rows).scalars())
            found: dict[str, bytes] = {}
            missing = [it.record_id for it in offered if it.record_id not in got]
            for start in range(0, len(missing), _IN_CHUNK):
                chunk = missing[start : start + _IN_CHUNK]
                for rid, digest in conn.execute(
                    select(envelopes.c.record_id, envelopes.c.body_sha256).where(
                        envelopes.c.device_id == caller.device_id,
                        envelopes.c.record_id.in_(chunk),
                    )
                ):
                    found[rid] = bytes(digest)
            append_changes(
                conn,
                [
                    (project_id, "envelope", it.record_id, caller.device_id)
                    for it in sorted(offered, key=lambda it: it.index)
                    if it.record_id in got
                ],
            )
            return got, found

        stmt = (
            dialect.insert(envelopes)
            .on_conflict_do_nothing(index_elements=["device_id", "record_id"])
            .returning(envelopes.c.record_id)
        )
        rows = [
            {
                "record_id": it.record_id,
                "project_id": project_id,
                "device_id": caller.device_id,
                "body": it.body,
                "body_sha256": it.digest,
                "received_at": received,
            }
            for it in offered
        ]
        inserted, stored = in_transaction(engine, work)
        for rid in inserted:
            stored[rid] = first[rid].digest

    for item in items:
        status: Literal["created", "duplicate", "conflict"]
        if item.record_id in inserted and first[item.record_id] is item:
            status = "created"
        elif stored.get(item.record_id) == item.digest:
            status = "duplicate"
        else:
            status = "conflict"
        results[item.index] = PushResult(record_id=item.record_id, status=status)
    return [r for r in results if r is not None]
