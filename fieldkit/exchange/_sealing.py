"""Sealing finalized records: the one place that turns a workspace's record into an envelope.

Records are sealed at sync (and bundle export), not at finalize: the store knows nothing of
sync, and a record finalized before a key rotation is sealed to the key current when it leaves.
Once sealed, an envelope's bytes never change (exactly once rests on byte-identical resends).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from fieldkit.exchange._state import Enrolment, enrolment
from fieldkit.exchange._trust import STATE_PROJECT_KEYS, ProjectKey, Trust

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    from fieldkit.store import Record, Workspace

__all__ = ["recipient_keys", "seal_pending", "seal_record"]


def recipient_keys(ws: Workspace, info: Enrolment) -> list[ProjectKey]:
    """The project keys a record is sealed to: the current signed generation; before signed
    statements, every key taken at enrolment (the first protocol's rule)."""
    if info.root is not None:
        current = Trust(ws, info.root, device_id=info.device_id).current_key()
        return [current] if current is not None else []
    return [
        ProjectKey(key_id=k["key_id"], public_key=k["public_key"], generation=0)
        for k in ws.state.get(STATE_PROJECT_KEYS) or []
    ]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def seal_record(
    ws: Workspace, info: Enrolment, record: Record, keys: list[X25519PublicKey]
) -> bytes:
    """The sealed envelope of one finalized record for ``keys`` and this device's own key."""
    from fieldkit.crypto.envelope import seal
    from fieldkit.exchange._attachments import descriptors, seal_attachments

    device = ws.device
    # Its attachments first: the body names each by the digest of its sealed stream, so the
    # record's signature covers them (DESIGN §6a).
    seal_attachments(ws, info, record, keys)
    body: dict[str, Any] = {
        "answers": dict(record.answers),
        "created_at": _iso(record.created_at),
        "finalized_at": _iso(record.finalized_at),
    }
    attached = descriptors(ws, record)
    if attached:
        body["attachments"] = attached
    return seal(
        record_id=record.id,
        project_id=info.project_id,
        form_id=record.form_id,
        form_version=record.form_version,
        kind="record",
        case_id=record.case_id,
        replaces=record.replaces,
        device_id=info.device_id,
        capture_day=record.capture_day,
        hlc=record.hlc or "",
        body=body,
        recipients=[*keys, device.x25519.public_key()],
        signing_key=device.ed25519,
    )


def seal_pending(ws: Workspace) -> int:
    """Seal every finalized record that has no envelope yet; 0 while no project key is known."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    from sync.protocol import b64decode

    pending = ws.records.unsealed()
    if not pending:
        return 0
    info = enrolment(ws)
    keys = [
        X25519PublicKey.from_public_bytes(b64decode(k.public_key)) for k in recipient_keys(ws, info)
    ]
    if not keys:
        return 0
    with ws.records.batch():
        for record in pending:
            ws.records.set_envelope(record.id, seal_record(ws, info, record, keys))
    return len(pending)
