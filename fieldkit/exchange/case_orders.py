"""A coordinator's orders about one case: erasure, withdrawal of consent scopes, assignment.

DOMAIN §8, DESIGN §3, §5. Each order is a ``Statement`` signed by the project signing key and
by the issuing coordinator's device key, made only on a coordinator's laptop, relayed by the
server and applied by every device on its next sync or pull (``Trust._apply`` calls
:func:`apply_order`). The server never learns the case code: an order carries it HPKE-sealed
to each certified device's X25519 key, and names the envelopes the server may touch by the key
the server keeps them under, ``(device_id, record_id)``. Devices find their own records of the
case (drafts included) by the case code in their answers.

- ``erasure``: every record of the case is deleted (really: ``fieldkit.store.case_orders``);
  a record of the case that arrives later is refused, and a coordinator orders the server to
  delete its envelope too (:func:`erase_late`).
- ``withdrawal``: the scopes are withdrawn from the case's consent (``consents_by_case``
  leaves them out), so whatever needs them — sharing with a partner, contact — is refused.
- ``assignment``: each record's data key is wrapped to one device's certified key; the server
  delivers the envelopes to that device alone, which opens them with the wrapped key. A later
  assignment of the same records to another device is a transfer: the earlier device deletes
  its copies. A device that learns it was revoked deletes every record assigned to it.

What stays: in ``case_orders`` the order's id, kind, time and how many records went; in the
audit log an entry ``case-erasure`` (or ``case-withdrawal``, ``case-assignment``) naming no
record; in ``case_marks`` a keyed digest of the case code (the key never leaves this laptop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fieldkit.errors import CryptoError, RecordNotFound, UsageError
from fieldkit.store.case_orders import ERASED, WITHDRAWN, CaseOrders, Grant, case_tag
from sync.protocol import (
    CASE_SCOPES,
    MAX_ORDER_ENVELOPES,
    AssignmentBody,
    CaseSeal,
    EnvelopeRef,
    ErasureBody,
    RecordGrant,
    Statement,
    WithdrawalBody,
    b64decode,
    b64encode,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from fieldkit.exchange._trust import Trust
    from fieldkit.store import Record, Workspace
    from sync.client import SyncClient

__all__ = [
    "CaseOrder",
    "apply_order",
    "assign_case",
    "case_records",
    "erase_case",
    "erase_late",
    "honour_own_revocation",
    "is_erased",
    "take_assigned",
    "withdraw_case",
]

SEAL_INFO = b"fieldkit/v2/case-order"
GRANT_INFO = b"fieldkit/v2/case-grant"
STATE_LATE = "cases.late_envelopes"  # [[device_id, record_id]] of erased cases, to erase again


@dataclass(frozen=True)
class CaseOrder:
    """What one order did here: its id and kind, records deleted on this laptop, envelopes it
    names for the server, and the server's answer (``created`` or ``unchanged``)."""

    order_id: str
    kind: str
    records_here: int
    envelopes: int
    status: str

    def as_json(self) -> dict[str, Any]:
        """JSON-ready, with no case code in it."""
        return {
            "order_id": self.order_id,
            "kind": self.kind,
            "records_here": self.records_here,
            "envelopes": self.envelopes,
            "status": self.status,
        }


# --- what this laptop holds of a case ----------------------------------------------------------


def _uuid4() -> str:
    import uuid

    return str(uuid.uuid4())


def case_records(ws: Workspace, code: str) -> list[Record]:
    """Every record on this laptop (drafts included) whose case code is ``code``."""
    from fieldkit.capture import case_code_of

    return [r for r in ws.records.list() if case_code_of(r) == code]


def is_erased(ws: Workspace, code: str | None) -> bool:
    """Whether an erasure order for this case was applied here."""
    return bool(code) and ERASED in CaseOrders(ws).marks(case_tag(ws, str(code)))


def _code(text: str) -> str:
    from fieldkit.capture import is_case_code, normalize_case_code

    code = normalize_case_code(text)
    if not is_case_code(code):
        raise UsageError("that is not a case code made by fieldkit (check the person's card)")
    return code


# --- issuing (a coordinator's laptop) -----------------------------------------------------------


def _seals(trust: Trust, code: str, order_id: str) -> list[CaseSeal]:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    from fieldkit.crypto.hpke import wrap

    seals = []
    for cert in sorted(trust.certificates(), key=lambda c: c.device_id):
        if not cert.active or not cert.x25519:
            continue
        public = X25519PublicKey.from_public_bytes(b64decode(cert.x25519))
        sealed = wrap(code.encode("utf-8"), public_key=public, info=SEAL_INFO + order_id.encode())
        seals.append(CaseSeal(device_id=cert.device_id, sealed=b64encode(sealed)))
    return seals


def _refs(ws: Workspace, own_device: str, records: list[Record]) -> list[EnvelopeRef]:
    """The server's keys of a case's finalized records (drafts never left the laptop)."""
    refs = {
        (own_device if r.origin == "local" else r.device, r.id)
        for r in records
        if r.status != "draft"
    }
    if len(refs) > MAX_ORDER_ENVELOPES:
        raise UsageError(f"a case order names at most {MAX_ORDER_ENVELOPES} records")
    return [EnvelopeRef(device_id=d, record_id=i) for d, i in sorted(refs)]


def _post(ws: Workspace, trust: Trust, client: SyncClient, kind: str, body: BaseModel) -> str:
    from fieldkit.exchange.project import _issue_and_post

    return _issue_and_post(ws, trust, client, kind, body)


def erase_case(
    ws: Workspace, code: str, *, server: str | None = None, **client_options: Any
) -> CaseOrder:
    """Coordinator: order every device and the server to delete every record of a case."""
    from fieldkit.exchange._state import check_server, open_client
    from fieldkit.exchange.joining import require_trust

    info, trust = require_trust(ws, signer=True)
    code = _code(code)
    records = case_records(ws, code)
    order_id = _uuid4()
    body = ErasureBody(
        order_id=order_id,
        cases=_seals(trust, code, order_id),
        envelopes=_refs(ws, info.device_id, records),
    )
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        status = _post(ws, trust, client, "erasure", body)
    return CaseOrder(order_id, "erasure", len(records), len(body.envelopes), status)


def withdraw_case(
    ws: Workspace,
    code: str,
    scopes: list[str],
    *,
    server: str | None = None,
    **client_options: Any,
) -> list[CaseOrder]:
    """Coordinator: the person withdrew ``scopes``; withdrawing ``store`` erases the case."""
    from fieldkit.exchange._state import check_server, open_client
    from fieldkit.exchange.joining import require_trust

    named = {s.strip().lower() for s in scopes if s.strip()}
    if not named or not named <= set(CASE_SCOPES):
        raise UsageError(f"--scope is one or more of: {', '.join(CASE_SCOPES)}")
    wanted = sorted(named, key=CASE_SCOPES.index)
    _, trust = require_trust(ws, signer=True)
    code = _code(code)
    order_id = _uuid4()
    body = WithdrawalBody.model_validate(
        {"order_id": order_id, "scopes": wanted, "cases": _seals(trust, code, order_id)}
    )
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        status = _post(ws, trust, client, "withdrawal", body)
    done = [CaseOrder(order_id, "withdrawal", 0, 0, status)]
    if "store" in wanted:
        done.append(erase_case(ws, code, server=server, **client_options))
    return done


def assign_case(
    ws: Workspace,
    code: str,
    device_id: str,
    *,
    server: str | None = None,
    **client_options: Any,
) -> CaseOrder:
    """Coordinator: make a case's records readable by one field device (and no other field
    device): each record's data key wrapped to that device's certified X25519 key."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    from fieldkit.crypto.envelope import envelope_data_key
    from fieldkit.crypto.hpke import wrap
    from fieldkit.exchange._state import check_server, open_client
    from fieldkit.exchange.joining import require_trust

    info, trust = require_trust(ws, signer=True)
    code = _code(code)
    cert = trust.certificate(device_id)
    if cert is None or not cert.x25519:
        raise UsageError(f"no certified device {device_id} in this project")
    if not cert.active:
        raise UsageError(f"device {device_id} was revoked: assign the case to another device")
    if cert.role != "field":
        raise UsageError("coordinators read every case already: assign it to a field device")
    refs = _refs(ws, info.device_id, case_records(ws, code))
    if not refs:
        raise UsageError("no finalized record of this case is on this laptop: pull first")
    public = X25519PublicKey.from_public_bytes(b64decode(cert.x25519))
    private = trust.private_keys()
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        found = client.fetch_envelopes([r.model_dump() for r in refs])
        grants = []
        for envelope in found:
            device = str(envelope.get("header", {}).get("device_id", ""))
            verify = trust.device_key(device)
            if verify is None:
                raise CryptoError("a record of this case comes from a device not certified now")
            header, data_key = envelope_data_key(
                envelope, private_keys=private, verify_key=verify, project_id=info.project_id
            )
            rid = str(header["record_id"])
            if (device, rid) not in {(r.device_id, r.record_id) for r in refs}:
                raise CryptoError("the server sent a record that was not asked for")
            wrapped = wrap(data_key, public_key=public, info=GRANT_INFO + rid.encode("ascii"))
            grants.append(
                RecordGrant(device_id=device, record_id=rid, wrapped_key=b64encode(wrapped))
            )
        if not grants:
            raise UsageError("no record of this case has reached the server yet: sync first")
        order_id = _uuid4()
        body = AssignmentBody(order_id=order_id, device_id=device_id, grants=grants)
        status = _post(ws, trust, client, "assignment", body)
    return CaseOrder(order_id, "assignment", 0, len(grants), status)


def erase_late(ws: Workspace, client: SyncClient) -> int:
    """Coordinator, after a pull: order the server to delete envelopes of erased cases that
    arrived after the erasure (pushed before the device took the order). Returns how many."""
    late = [tuple(x) for x in ws.state.get(STATE_LATE) or []]
    if not late:
        return 0
    from fieldkit.exchange._state import enrolment
    from fieldkit.exchange._trust import Trust

    info = enrolment(ws)
    if info.root is None:
        return 0
    trust = Trust(ws, info.root, device_id=info.device_id)
    if trust.signing_private() is None:
        return 0  # a coordinator without the project keys yet: the next one with them does it
    for start in range(0, len(late), MAX_ORDER_ENVELOPES):
        chunk = late[start : start + MAX_ORDER_ENVELOPES]
        body = ErasureBody(
            order_id=_uuid4(),
            cases=[],
            envelopes=[EnvelopeRef(device_id=d, record_id=r) for d, r in chunk],
        )
        _post(ws, trust, client, "erasure", body)
    ws.state.set(STATE_LATE, [])
    return len(late)


class ErasedCases:
    """The erased cases of a workspace, read once (a pull checks every record it takes in)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._tags = {t for t, marks in CaseOrders(ws).all_marks().items() if ERASED in marks}

    def covers(self, answers: dict[str, str]) -> bool:
        """Whether these answers name an erased case."""
        if not self._tags:
            return False
        from fieldkit.capture import case_code_in

        code = case_code_in(answers)
        return code is not None and case_tag(self._ws, code) in self._tags


def refuse_late(ws: Workspace, device_id: str, record_id: str) -> None:
    """A record of an erased case arrived after the order (it was pushed before its device
    took the order): it is not stored, and its envelope is queued for the server to delete."""
    late = [list(x) for x in ws.state.get(STATE_LATE) or []]
    if [device_id, record_id] not in late:
        late.append([device_id, record_id])
        ws.state.set(STATE_LATE, late)


# --- applying (every device) --------------------------------------------------------------------


def _opened_code(ws: Workspace, trust: Trust, order_id: str, seals: list[CaseSeal]) -> str | None:
    """The case code sealed to this device, or None when the order has none for it."""
    from fieldkit.crypto.hpke import unwrap

    for seal in seals:
        if seal.device_id != trust.device_id:
            continue
        try:
            raw = unwrap(
                b64decode(seal.sealed),
                private_key=ws.device.x25519,
                info=SEAL_INFO + order_id.encode(),
            )
            return raw.decode("utf-8")
        except (CryptoError, ValueError, UnicodeDecodeError):
            raise CryptoError("a case order whose sealed case does not open here") from None
    return None


def apply_order(ws: Workspace, trust: Trust, statement: Statement, body: BaseModel) -> str:
    """Apply a verified case order here; returns its subject (the order id, never the case)."""
    orders = CaseOrders(ws)
    if isinstance(body, ErasureBody):
        if not orders.applied(body.order_id):
            _erase(ws, trust, orders, statement, body)
    elif isinstance(body, WithdrawalBody):
        if not orders.applied(body.order_id):
            code = _opened_code(ws, trust, body.order_id, body.cases)
            if code is not None:
                tag = case_tag(ws, code)
                for scope in body.scopes:
                    orders.mark(tag, WITHDRAWN + scope, issued_at=statement.issued_at)
            orders.record_order(
                order_id=body.order_id, kind="withdrawal", issued_at=statement.issued_at, records=0
            )
    elif isinstance(body, AssignmentBody):
        if not orders.applied(body.order_id):
            _assign(ws, trust, orders, statement, body)
    else:
        raise CryptoError(f"a {statement.kind} statement is not a case order")
    return body.order_id


def _erase(
    ws: Workspace, trust: Trust, orders: CaseOrders, statement: Statement, body: ErasureBody
) -> None:
    code = _opened_code(ws, trust, body.order_id, body.cases)
    from fieldkit.capture import case_code_of

    named = {(r.device_id, r.record_id) for r in body.envelopes}
    ids = set()
    for record in ws.records.list():  # one pass: by the server's key, or by the case code
        # The server keeps a record under the device that pushed it.
        device = record.device if record.origin == "received" else trust.device_id
        if (device, record.id) in named or (code is not None and case_code_of(record) == code):
            ids.add(record.id)
    if code is not None:
        from fieldkit.capture._case_code import forget_case_code

        orders.mark(case_tag(ws, code), ERASED, issued_at=statement.issued_at)
        forget_case_code(ws, code)
    deleted = orders.delete_records(ids)
    orders.delete_held(named)
    orders.record_order(
        order_id=body.order_id, kind="erasure", issued_at=statement.issued_at, records=deleted
    )


def _assign(
    ws: Workspace, trust: Trust, orders: CaseOrders, statement: Statement, body: AssignmentBody
) -> None:
    gone = []
    for grant in body.grants:
        kept = orders.set_grant(
            Grant(
                device_id=grant.device_id,
                record_id=grant.record_id,
                assignee=body.device_id,
                wrapped_key=grant.wrapped_key,
                issued_at=statement.issued_at,
            )
        )
        if kept and body.device_id != trust.device_id:
            gone.append(grant)
    removed = 0
    own_role = trust.certificate(trust.device_id)
    if gone and (own_role is None or own_role.role != "coordinator"):
        # A transfer: this device held the case and holds it no more.
        ids = []
        for grant in gone:
            try:
                record = ws.records.get(grant.record_id)
            except RecordNotFound:
                continue
            if record.origin == "received" and record.device == grant.device_id:
                ids.append(record.id)
        removed = orders.delete_records(ids)
    orders.record_order(
        order_id=body.order_id, kind="assignment", issued_at=statement.issued_at, records=removed
    )


def honour_own_revocation(ws: Workspace, device_id: str) -> int:
    """This device (``device_id``) was revoked: delete every record assigned to it; returns
    how many."""
    orders = CaseOrders(ws)
    ids = []
    for record in ws.records.list():
        if record.origin != "received":
            continue
        grant = orders.grant(record.device, record.id)
        if grant is not None and grant.assignee == device_id:
            ids.append(record.id)
    return orders.delete_records(ids)


def take_assigned(ws: Workspace, trust: Trust, envelope: dict[str, Any]) -> str | None:
    """Store a record of a case assigned to this device; returns why it was refused (None
    when taken in or already here)."""
    from fieldkit.capture import case_code_in
    from fieldkit.crypto.envelope import open_envelope
    from fieldkit.crypto.hpke import unwrap

    try:
        header = envelope["header"]
        device_id, record_id = str(header["device_id"]), str(header["record_id"])
    except (KeyError, TypeError):
        return "the record is malformed"
    me = trust.certificate(trust.device_id)
    if me is not None and not me.active:
        return "this device was revoked"
    grant = CaseOrders(ws).grant(device_id, record_id)
    if grant is None or grant.assignee != trust.device_id:
        return "a record not assigned to this device"
    verify = trust.device_key(device_id)
    if verify is None:
        return "a record from a device not certified (or revoked)"
    try:
        data_key = unwrap(
            b64decode(grant.wrapped_key),
            private_key=ws.device.x25519,
            info=GRANT_INFO + record_id.encode("ascii"),
        )
        opened = open_envelope(
            envelope,
            private_keys=[],
            verify_key=verify,
            project_id=trust.root.project_id,
            data_key=data_key,
        )
    except (CryptoError, ValueError):
        return "an assigned record that does not verify or open"
    answers = opened.body.get("answers")
    if not isinstance(answers, dict):
        return "the record's body has no answers"
    answers = {str(k): str(v) for k, v in answers.items()}
    code = case_code_in(answers)
    if is_erased(ws, code):
        return "a record of an erased case"
    h = opened.header
    ws.records.import_received(
        record_id=record_id,
        form_id=h["form_id"],
        form_version=h["form_version"],
        answers=answers,
        device=device_id,
        capture_day=h["capture_day"],
        finalized_at=str(opened.body.get("finalized_at") or ""),
        replaces=h["replaces"],
        case_id=h["case_id"],
        hlc=h["hlc"],
    )
    return None
