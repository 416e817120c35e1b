"""Applying a bundle (``bundle.import_bundle``): signatures, then one transaction.

Kept apart from ``bundle`` (what is written) so each module reads as one concern; the rules
are in ``bundle``'s docstring and docs/internals.md ("Bundles").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fieldkit.errors import AuthError, CryptoError, UsageError
from fieldkit.exchange._container import BundleReader
from fieldkit.exchange._state import STATE_OFFLINE, Enrolment, save_enrolment
from fieldkit.exchange._trust import Trust
from fieldkit.exchange.bundle import (
    ENROLMENT,
    ENVELOPE,
    PROJECT,
    RECEIPT,
    RECORDS,
    STATE_ENROL_REQUEST,
    STATEMENT,
    BundleImported,
    Section,
    _write_project_bundle,
)
from fieldkit.exchange.transfer import _Taker
from sync.protocol import (
    PendingEnrolment,
    ProjectBody,
    ProjectIdentity,
    Statement,
    b64decode,
    b64encode,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from fieldkit.store import Workspace

__all__ = [
    "check_signer",
    "enrol_from",
    "import_project",
    "import_records",
    "item_json",
    "sha",
    "write_receipt",
]


def check_signer(
    reader: BundleReader,
    trust: Trust,
    digest: bytes,
    *,
    pending: Ed25519PublicKey | None,
) -> None:
    """The bundle's signatures hold, by a device the project certified and has not revoked
    (and, for a project bundle, by the project signing key and a coordinator)."""
    from cryptography.exceptions import InvalidSignature

    from fieldkit.exchange._container import signed_message

    header, trailer = reader.header, reader.trailer
    cert = trust.certificate(header.signer)
    if cert is not None and not cert.active:
        raise CryptoError(
            "this bundle is signed by a device whose certificate was revoked; nothing was imported"
        )
    key = trust.device_key(header.signer)
    if key is None and header.signer == trust.root.creator and trust.root.creator_key:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        key = Ed25519PublicKey.from_public_bytes(b64decode(trust.root.creator_key))
    if key is None:
        key = pending
    if key is None:
        raise CryptoError(
            "this bundle is signed by a device the project has not certified; nothing was imported"
        )
    message = signed_message(digest)
    try:
        key.verify(b64decode(str(trailer.get("signature") or "")), message)
    except (InvalidSignature, ValueError):
        raise CryptoError(
            "this bundle's signature does not hold: it was changed after it was made; nothing "
            "was imported"
        ) from None
    if header.kind == PROJECT:
        is_coordinator = (cert is not None and cert.role == "coordinator") or (
            header.signer == trust.root.creator
        )
        try:
            if not is_coordinator:
                raise ValueError
            trust.root.verify_key().verify(
                b64decode(str(trailer.get("project_signature") or "")), message
            )
        except (InvalidSignature, ValueError):
            raise CryptoError(
                "this bundle is not signed by the project; nothing was imported"
            ) from None


def _items(reader: BundleReader, known: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    allowed = set(known)
    for kind, payload in reader.items():
        if kind not in allowed:
            raise UsageError(
                f"this bundle carries items of a kind this fieldkit does not know ({kind[:32]}): "
                "upgrade fieldkit; nothing was imported"
            )
        yield kind, payload


def item_json(payload: bytes) -> dict[str, Any]:
    invalid = CryptoError("this bundle holds an item that is not valid; nothing was imported")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        raise invalid from None
    if not isinstance(data, dict):
        raise invalid
    return data


def _pending_request(reader: BundleReader) -> PendingEnrolment | None:
    """The enrolment request of an offline-enrolled laptop, if its bundle carries one."""
    for kind, payload in reader.items():
        if kind == ENROLMENT:
            try:
                pending = PendingEnrolment.model_validate(item_json(payload))
            except ValidationError:
                raise CryptoError("this bundle's enrolment request is malformed") from None
            if pending.device_id != reader.header.signer:
                raise CryptoError("this bundle's enrolment request names another device")
            return pending
        if kind == ENVELOPE:
            return None  # the request is always first
    return None


def import_records(
    ws: Workspace,
    info: Enrolment,
    trust: Trust,
    reader: BundleReader,
    digest: bytes,
    extra: dict[str, Section],
    *,
    receipt_dir: Path,
) -> BundleImported:
    """A field laptop's records: a coordinator opens and stores them (and writes a receipt);
    any other laptop relays them, unread, to the server on its next sync."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from fieldkit.crypto.envelope import verify_envelope
    from fieldkit.exchange.joining import certificate_for

    signer = reader.header.signer
    result = BundleImported()
    certificate: Statement | None = None
    request: PendingEnrolment | None = None
    pending_key = None
    if trust.certificate(signer) is None and info.is_coordinator:
        request = _pending_request(reader)
        if request is not None:
            made = certificate_for(trust, request)
            if isinstance(made, Statement):
                certificate = made
                pending_key = Ed25519PublicKey.from_public_bytes(b64decode(request.ed25519))
            elif isinstance(made, str):
                raise CryptoError(f"this bundle's enrolment was refused: {made}; nothing imported")
    check_signer(reader, trust, digest, pending=pending_key)
    summary = result.pulled
    taker = _Taker(ws, None, info, trust, summary, workers=2) if info.is_coordinator else None
    held: list[tuple[str, str]] = []
    try:
        with ws.transaction():
            if certificate is not None:
                assert request is not None
                trust.mark_code_used(request.code_id, request.device_id)
                verdict = trust.accept(certificate)
                trust.flush()
                if not verdict.accepted:
                    raise CryptoError(f"a certificate made here does not verify: {verdict.reason}")
                result.certified = 1
                result.statements += 1
            run: list[dict[str, Any]] = []
            for kind, payload in _items(reader, {ENVELOPE, ENROLMENT, *extra}):
                if kind == ENROLMENT:
                    continue
                if kind != ENVELOPE:
                    if taker is not None and run:
                        # The records that name an attachment are applied before it is taken.
                        taker.apply_page(run)
                        run = []
                    result.extra += bool(extra[kind].take(ws, payload, signer=signer))
                    continue
                envelope = item_json(payload)
                header = envelope.get("header")
                if not isinstance(header, dict) or header.get("device_id") != signer:
                    raise CryptoError(
                        "this bundle carries a record of another device; nothing was imported"
                    )
                if header.get("project_id") != info.project_id:
                    raise CryptoError(
                        "this bundle carries a record of another project; nothing was imported"
                    )
                held.append((str(header.get("record_id")), sha(payload)))
                if taker is not None:
                    run.append({"type": "envelope", "envelope": envelope, "received_at": None})
                    if len(run) >= 500:
                        taker.apply_page(run)
                        run = []
                else:
                    key = trust.device_key(signer)
                    if key is None:
                        raise CryptoError(
                            "this laptop holds no certificate of the device that made this "
                            "bundle (sync once to receive it); nothing was imported"
                        )
                    verify_envelope(payload, verify_key=key, project_id=info.project_id)
                    result.relayed += ws.bundles.relay(
                        device_id=signer, record_id=str(header["record_id"]), envelope=payload
                    )
            if taker is not None:
                taker.apply_page(run)
            summary.held = ws.held.count()
            ws.bundles.remember(bundle_id=reader.header.bundle_id, kind=RECORDS, signer=signer)
    finally:
        if taker is not None:
            taker.close()
    if taker is not None:
        result.receipt = write_receipt(ws, info, trust, receipt_dir, signer, held)
    return result


def sha(payload: bytes) -> str:
    """The hex SHA-256 a receipt names an envelope's bytes by."""
    return hashlib.sha256(payload).hexdigest()


def write_receipt(
    ws: Workspace,
    info: Enrolment,
    trust: Trust,
    folder: Path,
    device_id: str,
    items: list[tuple[str, str]],
) -> Path | None:
    """A small project-signed bundle for ``device_id``: receipts for what is held here now,
    and the device's own certificate (a laptop enrolled by bundle learns it is certified from
    it; sent every time, since an earlier receipt may have been lost). None: nothing to say."""
    receipts = _receipts(ws, device_id, items)
    statements = [s.statement for s in ws.statements.list(kind="device", subject=device_id)]
    if not receipts and not statements:
        return None
    if not folder.is_dir():
        raise UsageError(f"no folder {folder} to write the receipt in")
    written = _write_project_bundle(
        ws,
        info,
        trust,
        folder,
        audience=device_id,
        statements=[{"statement": s, "definition": None} for s in statements],
        receipts=receipts,
    )
    return written.path


def _receipts(ws: Workspace, device_id: str, items: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Receipts for the envelopes of ``device_id`` this coordinator now holds (stored or held)."""
    held = {h.record_id for h in ws.held.list(device_ids=[device_id])}
    made_by = ws.records.devices_of(record_id for record_id, _ in items)
    return [
        {"device_id": device_id, "record_id": record_id, "sha256": sha}
        for record_id, sha in items
        if made_by.get(record_id, device_id if record_id in held else None) == device_id
    ]


def import_project(
    ws: Workspace,
    info: Enrolment,
    trust: Trust,
    reader: BundleReader,
    digest: bytes,
) -> BundleImported:
    """A coordinator's bundle: statements, checked and applied like a pull's; receipts."""
    check_signer(reader, trust, digest, pending=None)
    result = BundleImported()
    taker = _Taker(ws, None, info, trust, result.pulled, workers=2)
    before = len(ws.statements.list())
    try:
        with ws.transaction():
            run: list[dict[str, Any]] = []
            delivered: list[str] = []
            for kind, payload in _items(reader, {STATEMENT, RECEIPT}):
                item = item_json(payload)
                if kind == STATEMENT:
                    run.append({"type": "statement", **item})
                    continue
                if item.get("device_id") != info.device_id:
                    continue  # a receipt for another laptop
                stored = ws.records.envelope(str(item.get("record_id")))
                if (
                    stored is not None
                    and stored.sent_at is None
                    and hashlib.sha256(stored.envelope).hexdigest() == item.get("sha256")
                ):
                    delivered.append(stored.record_id)
            taker.apply_page(run)
            ws.records.mark_sent(delivered, by="bundle")
            result.delivered = len(delivered)
            result.statements = len(ws.statements.list()) - before
            ws.bundles.remember(
                bundle_id=reader.header.bundle_id, kind=PROJECT, signer=reader.header.signer
            )
    finally:
        taker.close()
    if ws.state.get(STATE_ENROL_REQUEST) and trust.certificate(info.device_id) is not None:
        ws.state.set(STATE_ENROL_REQUEST, None)  # certified: the request has done its work
    return result


# --- offline enrolment --------------------------------------------------------------------------


def enrol_from(ws: Workspace, reader: BundleReader, digest: bytes, code: str) -> BundleImported:
    """Enrol a never-online laptop from a coordinator's enrolment bundle and its code: the
    same fingerprint, MAC and signature checks as online enrolment (joining.check_offer)."""
    from fieldkit.crypto import enrolment as codes
    from fieldkit.exchange.code import EnrolmentCode
    from fieldkit.exchange.joining import check_offer

    parsed = EnrolmentCode.parse(code)
    cid = codes.code_id(parsed.secret)
    if reader.header.kind != PROJECT:
        raise UsageError("this is not a coordinator's enrolment bundle")
    project: Statement | None = None
    offer: Statement | None = None
    for kind, payload in reader.items():
        if kind != STATEMENT:
            continue
        try:
            statement = Statement.model_validate(item_json(payload).get("statement"))
        except ValidationError:
            continue
        if statement.kind == "project" and project is None:
            project = statement
        elif statement.kind == "enrol_offer" and statement.body.get("code_id") == cid:
            offer = statement
    refusal = CryptoError(
        "this bundle was not made for your enrolment code (another project, or another "
        "code): nothing was stored; tell your coordinator"
    )
    if project is None or offer is None:
        raise refusal
    try:
        body = ProjectBody.model_validate(project.body)
    except ValidationError:
        raise refusal from None
    identity = ProjectIdentity(
        project_id=reader.header.project_id, name=body.name, signing_key=body.signing_key
    )
    role = str(offer.body.get("role"))
    root = check_offer(identity, offer, parsed, role=role)
    # The whole bundle must be the project's, not only the offer inside it.
    from cryptography.exceptions import InvalidSignature

    from fieldkit.exchange._container import signed_message

    try:
        root.verify_key().verify(
            b64decode(str(reader.trailer.get("project_signature") or "")),
            signed_message(digest),
        )
    except (InvalidSignature, ValueError):
        raise refusal from None
    if role != "field":
        raise UsageError("a coordinator enrols online (it needs the server for the project keys)")
    from fieldkit.clock import utc_text

    x25519 = b64encode(ws.device.x25519_public)
    ed25519 = b64encode(ws.device.ed25519_public)
    request = {
        "code_id": cid,
        "device_id": ws.device_id,
        "x25519": x25519,
        "ed25519": ed25519,
        "name": None,
        "mac": b64encode(
            codes.device_mac(
                parsed.secret,
                code=cid,
                device_id=ws.device_id,
                x25519=x25519,
                ed25519=ed25519,
                name=None,
            )
        ),
        "enrolled_at": utc_text(),
    }
    info = Enrolment(
        server_url="",
        token="",
        device_id=ws.device_id,
        project_id=root.project_id,
        project_name=root.name,
        role=role,
        insecure_http=False,
        root=root,
    )
    result = BundleImported(enrolled=root.fingerprint)
    with ws.transaction():
        save_enrolment(ws, info)
        ws.state.set(STATE_OFFLINE, True)
        ws.state.set(STATE_ENROL_REQUEST, request)
        trust = Trust(ws, root, device_id=ws.device_id)
        taker = _Taker(ws, None, info, trust, result.pulled, workers=1)
        try:
            run = [
                {"type": "statement", **item_json(p)} for k, p in reader.items() if k == STATEMENT
            ]
            taker.apply_page(run)
        finally:
            taker.close()
        if trust.current_key() is None:
            raise AuthError("the enrolment bundle holds no project key; ask for a new one")
        ws.bundles.remember(
            bundle_id=reader.header.bundle_id, kind=PROJECT, signer=reader.header.signer
        )
    return result
