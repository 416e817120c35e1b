"""Bundles: the sneakernet (DESIGN §6b). What a push sends and a pull brings, as a file.

A field laptop's bundle (kind ``records``) holds the very envelopes ``fieldkit sync`` would
push, signed as a whole by the device; a coordinator's bundle (kind ``project``) holds the
statements a pull would bring, and receipts, signed by the project signing key and by the
coordinator's own device key. Items are applied through the same code as a pull
(``transfer._Taker``), so a record or statement taken by bundle and then again by sync (or the
other way round) is the same item, taken once.

Exactly once: an import is one local transaction that also notes the bundle's id; importing
the same bundle again is "nothing new", and a kill at any point leaves either all of it or
none. A record counts as delivered (``sent``, "delivered by bundle") only when a coordinator's
receipt names it with the digest of the bytes this laptop sealed; until then it stays waiting
and is offered again in the next bundle or sync, harmlessly.

Attachments (issue 17) and other item kinds plug in as a :class:`Section`: a name, what to
write for an export, and how to take a payload in. See ``extra_sections``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fieldkit.errors import CryptoError, NotEnrolled, UsageError
from fieldkit.exchange._container import SUFFIX, BundleHeader, BundleReader, BundleWriter
from fieldkit.exchange._sealing import seal_pending
from fieldkit.exchange._state import (
    Enrolment,
    ProjectRoot,
    enrolment,
    is_enrolled,
)
from fieldkit.exchange._trust import Trust, stamp
from fieldkit.exchange.transfer import PullSummary
from sync.protocol import b64encode, canonical_json

if TYPE_CHECKING:
    from fieldkit.store import Workspace
    from sync.client import SyncClient

__all__ = [
    "BundleExported",
    "BundleImported",
    "Section",
    "export_enrolment_bundle",
    "export_project_bundle",
    "export_records_bundle",
    "extra_sections",
    "forward_relayed",
    "import_bundle",
]

ENVELOPE = "envelope"
STATEMENT = "statement"
ENROLMENT = "enrolment"
RECEIPT = "receipt"
RECORDS = "records"
PROJECT = "project"
# Not for field laptops: offers carry secrets sealed to the project key (the server's rule too).
_COORDINATOR_ONLY = frozenset({"enrol_offer"})
# The request an offline-enrolled laptop sends with its bundles until it holds its certificate.
STATE_ENROL_REQUEST = "bundle.enrol_request"


class Section(Protocol):
    """One more kind of item a bundle carries (attachments: issue 17).

    ``export`` yields the wire bytes of the items that go with the records being delivered;
    ``take`` applies one payload inside the import's transaction and returns True when it
    brought something new. Both see the same bytes the sync protocol carries for that item.
    """

    kind: str

    def export(self, ws: Workspace, *, record_ids: Sequence[str]) -> Iterable[bytes]:
        """The payloads to write after the envelopes of ``record_ids``."""
        ...

    def take(self, ws: Workspace, payload: bytes, *, signer: str) -> bool:
        """Apply one payload of a bundle signed by ``signer`` (CryptoError refuses the bundle)."""
        ...


def extra_sections() -> list[Section]:
    """The item kinds beyond envelopes, statements, enrolments and receipts.

    Attachments: sealed byte streams named by digest in their records' sealed bodies.
    """
    from fieldkit.exchange._attachments import AttachmentSection

    return [AttachmentSection()]


@dataclass
class BundleExported:
    """What an export wrote."""

    path: Path | None  # None when there was nothing to write
    records: int = 0
    statements: int = 0
    receipts: int = 0
    unsealed: int = 0  # finalized but not sealed: no project key known yet
    items: int = 0

    def line(self) -> str:
        """One line for the terminal."""
        if self.path is None:
            text = "Nothing to deliver: no finalized record is waiting."
        else:
            parts = []
            if self.records or not (self.statements or self.receipts):
                parts.append(f"{self.records} record{_s(self.records)}")
            if self.statements:
                parts.append(f"{self.statements} signed item{_s(self.statements)}")
            if self.receipts:
                parts.append(f"{self.receipts} receipt{_s(self.receipts)}")
            text = f"Wrote {self.path} ({', '.join(parts)})."
        if self.unsealed:
            text += f" {self.unsealed} record(s) wait for the project's key."
        return text


@dataclass
class BundleImported:
    """What an import did."""

    already_imported: str | None = None  # when, if this bundle was imported before
    pulled: PullSummary = field(default_factory=PullSummary)
    relayed: int = 0  # envelopes queued for this laptop's next sync
    delivered: int = 0  # own records a receipt marked delivered
    certified: int = 0
    receipt: Path | None = None
    enrolled: str | None = None  # project fingerprint, when this import enrolled the laptop
    extra: int = 0  # items of other sections (attachments) taken in
    statements: int = 0  # signed items new here

    @property
    def nothing_new(self) -> bool:
        """True when the import changed nothing."""
        p = self.pulled
        return not (
            p.records
            or p.forms
            or p.keys
            or p.held
            or self.relayed
            or self.delivered
            or self.certified
            or self.enrolled
            or self.extra
            or self.statements
        )

    def line(self) -> str:
        """One line for the terminal."""
        if self.already_imported:
            return f"Nothing new: this bundle was imported here at {self.already_imported}."
        parts = []
        p = self.pulled
        if self.enrolled:
            parts.append(f"Enrolled from the bundle (project fingerprint {self.enrolled})")
        if p.records:
            parts.append(f"{p.records} new record{_s(p.records)}")
        if p.already_had:
            parts.append(f"{p.already_had} already here")
        if p.forms:
            parts.append(f"{p.forms} form version{_s(p.forms)}")
        if self.statements and not p.forms:
            parts.append(f"{self.statements} signed item{_s(self.statements)}")
        if self.certified:
            parts.append(f"certified {self.certified} device{_s(self.certified)}")
        if self.relayed:
            parts.append(f"{self.relayed} record(s) to forward on the next sync")
        if self.delivered:
            parts.append(f"{self.delivered} record(s) marked delivered")
        if p.held:
            parts.append(f"{p.held} held until they can be checked")
        if p.refused:
            parts.append(f"{len(p.refused)} refused (did not verify)")
        text = ("Imported: " + ", ".join(parts) + ".") if parts else "Nothing new."
        if self.nothing_new and parts:
            text = "Nothing new: " + ", ".join(parts) + "."
        for reason, count in sorted(p.items_refused.items()):
            text += f" {count} item{_s(count)} refused: {reason}."
        if self.receipt is not None:
            text += f" Receipt written to {self.receipt}: take it back to the field laptop."
        return text


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _target(out: Path) -> Path:
    """The file to write: ``out``, or a neutral random name inside ``out`` when it is a folder
    (a name that says nothing about whose records, where or when)."""
    if out.is_dir():
        return out / f"fieldkit-{os.urandom(5).hex()}{SUFFIX}"
    if not out.parent.is_dir():
        raise UsageError(f"no folder {out.parent} to write the bundle in")
    if out.exists():
        raise UsageError(f"{out} exists already: name another file or a folder")
    return out


def _bundle_id() -> str:
    return os.urandom(16).hex()


# --- export -------------------------------------------------------------------------------------


def export_records_bundle(
    ws: Workspace, out: Path, *, sections: Sequence[Section] | None = None
) -> BundleExported:
    """Field laptop: every finalized record not yet delivered, as the envelopes a push sends,
    in a bundle signed by this device. Drafts never leave."""
    info = enrolment(ws)
    _require_root(info)
    seal_pending(ws)
    waiting = ws.records.unsent()
    request = ws.state.get(STATE_ENROL_REQUEST)
    result = BundleExported(path=None, unsealed=len(ws.records.unsealed()))
    if not waiting and not request:
        return result
    header = BundleHeader(
        bundle_id=_bundle_id(),
        kind=RECORDS,
        project_id=info.project_id,
        signer=info.device_id,
        created_at=stamp(),
    )
    writer = BundleWriter(_target(out), header)
    try:
        if request:
            writer.add(ENROLMENT, canonical_json(request))
        for item in waiting:
            writer.add(ENVELOPE, item.envelope)
        ids = [item.record_id for item in waiting]
        for section in sections if sections is not None else extra_sections():
            for payload in section.export(ws, record_ids=ids):
                writer.add(section.kind, payload)
        device = ws.device.ed25519
        result.path = writer.finish(lambda m: {"signature": b64encode(device.sign(m))})
    except BaseException:
        writer.abort()
        raise
    result.records = len(waiting)
    result.items = writer.items
    return result


def export_enrolment_bundle(
    ws: Workspace, out: Path, *, expires_seconds: int = 30 * 24 * 3600
) -> tuple[BundleExported, Any]:
    """Coordinator: a one-time code and the bundle a never-online field laptop enrols from
    (everything a field laptop's first pull brings, and the code's signed offer)."""
    from fieldkit.crypto import enrolment as codes
    from fieldkit.exchange.joining import make_offline_code

    issued = make_offline_code(ws, role="field", expires_seconds=expires_seconds)
    written = export_project_bundle(
        ws, out, role="field", enrol_code=codes.code_id(issued.code.secret)
    )
    return written, issued


def export_project_bundle(
    ws: Workspace,
    out: Path,
    *,
    device: str | None = None,
    role: str | None = None,
    enrol_code: Any = None,
) -> BundleExported:
    """Coordinator: what a pull would bring ``device`` (or any laptop of ``role``): every
    statement the project signed that such a laptop may see, signed by the project."""
    from fieldkit.exchange.joining import require_trust

    if (device is None) == (role is None):
        raise UsageError("name the laptop with --for DEVICE, or all of a role with --role")
    info, trust = require_trust(ws, signer=True)
    if role is not None and role not in ("field", "coordinator"):
        raise UsageError("role must be field or coordinator")
    if device is not None:
        cert = trust.certificate(device)
        if cert is None:
            raise UsageError(f"device {device} is not certified in this project")
        role = cert.role
    audience = device or f"role:{role}"
    statements = [s for s in _wire_statements(ws) if role == "coordinator" or _for_field(s)]
    if enrol_code is not None:
        # The offer of an offline enrolment code, which a field laptop needs to check the code.
        statements += [
            s
            for s in _wire_statements(ws, kind="enrol_offer", subject=enrol_code)
            if s not in statements
        ]
    return _write_project_bundle(ws, info, trust, out, audience=audience, statements=statements)


def _for_field(item: dict[str, Any]) -> bool:
    return str(item["statement"]["kind"]) not in _COORDINATOR_ONLY


def _wire_statements(
    ws: Workspace, *, kind: str | None = None, subject: str | None = None
) -> list[dict[str, Any]]:
    """Stored statements as a pull carries them: the statement, and a form's definition."""
    from sync.protocol import definition_sha256

    definitions: dict[str, dict[str, Any]] = {}
    out = []
    for stored in ws.statements.list(kind=kind, subject=subject):
        item: dict[str, Any] = {"statement": stored.statement, "definition": None}
        wanted = stored.statement.get("body", {}).get("definition_sha256")
        if wanted:
            if not definitions:
                for version in ws.forms.list():
                    definitions[definition_sha256(version.definition)] = version.definition
            item["definition"] = definitions.get(str(wanted))
        out.append(item)
    return out


def _write_project_bundle(
    ws: Workspace,
    info: Enrolment,
    trust: Trust,
    out: Path,
    *,
    audience: str,
    statements: Sequence[dict[str, Any]],
    receipts: Sequence[dict[str, str]] = (),
) -> BundleExported:
    signing = trust.signing_private()
    assert signing is not None and info.root is not None
    header = BundleHeader(
        bundle_id=_bundle_id(),
        kind=PROJECT,
        project_id=info.project_id,
        signer=info.device_id,
        created_at=stamp(),
    )
    writer = BundleWriter(_target(out), header)
    device = ws.device.ed25519
    try:
        for item in statements:
            writer.add(STATEMENT, canonical_json(item))
        for receipt in receipts:
            writer.add(RECEIPT, canonical_json(receipt))
        path = writer.finish(
            lambda m: {
                "signature": b64encode(device.sign(m)),
                "project_signature": b64encode(signing.sign(m)),
                "audience": audience,
            }
        )
    except BaseException:
        writer.abort()
        raise
    return BundleExported(
        path=path, statements=len(statements), receipts=len(receipts), items=writer.items
    )


def _require_root(info: Enrolment) -> ProjectRoot:
    if info.root is None:
        raise UsageError(
            "bundles need a project with a signing identity: a coordinator runs "
            "`fieldkit project upgrade-trust` (see docs/security.md)"
        )
    return info.root


# --- import -------------------------------------------------------------------------------------


def import_bundle(
    ws: Workspace,
    path: Path,
    *,
    code: str | None = None,
    receipt_dir: Path | None = None,
    sections: Sequence[Section] | None = None,
) -> BundleImported:
    """Verify a bundle, then apply it exactly once in one transaction (see the module doc).
    A laptop not enrolled yet enrols from a coordinator's enrolment bundle with its ``code``."""
    from fieldkit.exchange._bundle_import import (
        check_signer,
        enrol_from,
        import_project,
        import_records,
        item_json,
        sha,
        write_receipt,
    )

    with BundleReader(path) as reader:
        digest = reader.digest()
        if not is_enrolled(ws):
            if code is None:
                raise NotEnrolled(
                    "this workspace is not enrolled: enrol from your coordinator's enrolment "
                    "bundle with `fieldkit bundle import FILE --code CODE`"
                )
            return enrol_from(ws, reader, digest, code)
        if code is not None:
            from fieldkit.exchange._state import refuse_second_enrolment

            refuse_second_enrolment(ws)
        info = enrolment(ws)
        root = _require_root(info)
        if reader.header.project_id != info.project_id:
            raise CryptoError("this bundle is for another project; nothing was imported")
        trust = Trust(ws, root, device_id=info.device_id)
        when = ws.bundles.imported_at(reader.header.bundle_id)
        if when is not None:
            check_signer(reader, trust, digest, pending=None)
            again = BundleImported(already_imported=when)
            if reader.header.kind == RECORDS and info.is_coordinator:
                # The field laptop may have lost the receipt: the same one is written again.
                held = [
                    (str(item_json(p).get("header", {}).get("record_id")), sha(p))
                    for k, p in reader.items()
                    if k == ENVELOPE
                ]
                again.receipt = write_receipt(
                    ws, info, trust, receipt_dir or path.parent, reader.header.signer, held
                )
            return again
        extra = {s.kind: s for s in (sections if sections is not None else extra_sections())}
        if reader.header.kind == RECORDS:
            result = import_records(
                ws, info, trust, reader, digest, extra, receipt_dir=receipt_dir or path.parent
            )
        elif reader.header.kind == PROJECT:
            result = import_project(ws, info, trust, reader, digest)
        else:
            raise UsageError("this bundle is of a kind this fieldkit does not know: upgrade it")
    return result


def forward_relayed(ws: Workspace, client: SyncClient, *, batch_size: int | None = None) -> int:
    """Part of ``sync``: send other devices' envelopes this laptop carried by bundle, unread;
    each is kept until the server answers ``created`` or ``duplicate`` (exactly once, as a
    push). Returns how many the server now holds."""
    waiting = ws.bundles.relay_waiting()
    held = 0
    size = batch_size or 100  # a relay's envelopes go in small pushes (each retried whole)
    for start in range(0, len(waiting), size):
        batch = waiting[start : start + size]
        results = client.push([item.envelope for item in batch], path="/v1/relay")
        done = [
            (item.device_id, item.record_id)
            for item, result in zip(batch, results, strict=True)
            if result.get("status") in ("created", "duplicate")
            and result.get("record_id") == item.record_id
        ]
        ws.bundles.relay_sent(done)
        held += len(done)
    return held
