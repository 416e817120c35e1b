"""Every message on the sync wire (DESIGN §6), versioned, plus the canonical byte encodings.

Shared by the device client and the central server. This module imports nothing of the project:
only the standard library and pydantic. Every model forbids unknown fields and bounds its sizes,
so a request that does not follow the protocol fails validation instead of reaching storage.

Canonical bytes (what is signed and what the server stores) come from ONE JSON encoder,
:func:`canonical_json`: keys sorted, no whitespace, UTF-8, ``None`` kept as ``null``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AdminDevice",
    "AssignedChange",
    "AssignmentBody",
    "CASE_SCOPES",
    "CaseSeal",
    "EnvelopeFetchRequest",
    "EnvelopeFetchResponse",
    "EnvelopeRef",
    "AdminDeviceList",
    "CODE_ALPHABET",
    "DATA_KEY_INFO_PREFIX",
    "DeviceBody",
    "DeviceKeys",
    "ENVELOPE_KINDS",
    "EmergencyContact",
    "EnrolOfferBody",
    "EnrollRequest",
    "EnrollResponse",
    "EnrollingDevice",
    "Envelope",
    "EnvelopeChange",
    "EnvelopeHeader",
    "ErasureBody",
    "ErrorBody",
    "ErrorDetail",
    "FormBody",
    "FormChange",
    "FormDefinition",
    "FormPublishRequest",
    "FormPublishResponse",
    "HealthResponse",
    "IdentityUpgradeRequest",
    "KeyGrantChange",
    "KeyGrantRequest",
    "KeyGrantResponse",
    "MAX_BATCH",
    "MAX_CIPHERTEXT_CHARS",
    "MAX_CONTACTS",
    "MAX_GRANT_CHARS",
    "MAX_PULL_LIMIT",
    "MAX_RECIPIENTS",
    "PROTOCOL_VERSION",
    "PendingEnrolment",
    "PendingEnrolmentList",
    "ProjectBody",
    "ProjectCreateRequest",
    "ProjectCreateResponse",
    "ProjectDevice",
    "ProjectDeviceList",
    "ProjectIdentity",
    "ProjectInfo",
    "ProjectKey",
    "ProjectKeyBody",
    "ProjectKeyChange",
    "PullResponse",
    "PushRequest",
    "PushResponse",
    "PushResult",
    "Recipient",
    "RefuseEnrolmentRequest",
    "RevocationBody",
    "RevocationChange",
    "RecordGrant",
    "WithdrawalBody",
    "STATEMENT_BODIES",
    "STATEMENT_KINDS",
    "SettingsBody",
    "Statement",
    "StatementChange",
    "StatementRequest",
    "StatementResponse",
    "b64decode",
    "b64encode",
    "base32",
    "canonical_envelope_bytes",
    "canonical_header_bytes",
    "canonical_json",
    "definition_sha256",
    "fingerprint",
    "form_ref",
    "hpke_info",
    "identity_digest",
    "key_id",
    "project_id_of",
    "signed_bytes",
    "statement_body",
    "statement_bytes",
    "statement_id",
]

PROTOCOL_VERSION = 1

# Hard ceilings of the protocol itself. A server may set lower limits in its settings (and
# reports items over them as `rejected`); nothing above these is ever valid on the wire.
MAX_BATCH = 1000  # envelopes per push
MAX_PULL_LIMIT = 5000  # changes per pull page
MAX_CIPHERTEXT_CHARS = 8 * 1024 * 1024  # base64 characters of one envelope's ciphertext
MAX_RECIPIENTS = 16
MAX_GRANT_CHARS = 64 * 1024  # base64 characters of one sealed key grant
MAX_CONTACTS = 20

ENVELOPE_KINDS = ("record", "case_event", "withdrawal")

# HPKE (RFC 9180) `info` for wrapping a record's data key: prefix + the recipient's key id.
DATA_KEY_INFO_PREFIX = b"fieldkit/v1/data-key"

_B64 = r"^[A-Za-z0-9+/]*={0,2}$"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_ID = r"^[A-Za-z0-9_.:-]{1,128}$"
# Printable text without control characters (routing values, names shown to an admin).
_TEXT = r"^[^\x00-\x1f\x7f]*$"

B64Key = Annotated[str, Field(min_length=44, max_length=44, pattern=_B64)]  # 32 raw bytes
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
Uuid = Annotated[str, Field(pattern=_UUID)]
Ident = Annotated[str, Field(pattern=_ID)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=_TEXT)]
Token = Annotated[str, Field(min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Role = Literal["field", "coordinator"]
Signature = Annotated[str, Field(min_length=88, max_length=88, pattern=_B64)]  # 64 raw bytes
B64Mac = Annotated[str, Field(min_length=44, max_length=44, pattern=_B64)]  # HMAC-SHA256
CodeId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
# UTC instants as the project writes them: 2026-12-01T09:30:00.000Z (sortable text).
Stamp = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the sealed record -------------------------------------------------------------------------


class Recipient(_Model):
    """One HPKE recipient of a record's data key (a project key or the capturing device)."""

    key_id: KeyId
    # HPKE enc (32 bytes for X25519) || AEAD ciphertext of the 32-byte data key (+16 tag).
    wrapped_key: Annotated[str, Field(min_length=4, max_length=256, pattern=_B64)]


class EnvelopeHeader(_Model):
    """The plaintext routing header: bound as AAD and signed; never holds an answer."""

    # 1: body unpadded (written before 0.2); 2: body padded to a size bucket (pad_body).
    v: Literal[1, 2] = 2
    record_id: Uuid
    project_id: Ident
    form_id: Annotated[str, Field(min_length=1, max_length=128, pattern=_TEXT)]
    form_version: Annotated[str, Field(min_length=1, max_length=64, pattern=_TEXT)]
    kind: Literal["record", "case_event", "withdrawal"] = "record"
    case_id: Ident | None = None
    replaces: Uuid | None = None
    device_id: Ident
    capture_day: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    hlc: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
    recipients: Annotated[list[Recipient], Field(min_length=1, max_length=MAX_RECIPIENTS)]


class Envelope(_Model):
    """One sealed record as it travels: header, AES-256-GCM ciphertext, Ed25519 signature."""

    header: EnvelopeHeader
    # base64 of 12-byte nonce || AES-256-GCM ciphertext (AAD = canonical_header_bytes(header)).
    ciphertext: Annotated[str, Field(min_length=4, max_length=MAX_CIPHERTEXT_CHARS, pattern=_B64)]
    # base64 of the 64-byte Ed25519 signature over signed_bytes(envelope).
    signature: Annotated[str, Field(min_length=88, max_length=88, pattern=_B64)]


def canonical_json(value: Any) -> bytes:
    """The one JSON encoding for signing and storage: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def canonical_header_bytes(header: EnvelopeHeader | dict[str, Any]) -> bytes:
    """Canonical bytes of a header: the AEAD associated data and the start of what is signed."""
    data = header.model_dump(mode="json") if isinstance(header, EnvelopeHeader) else header
    return canonical_json(data)


def signed_bytes(envelope: Envelope) -> bytes:
    """What the device signs: canonical header bytes + SHA-256 of the raw ciphertext bytes."""
    raw = b64decode(envelope.ciphertext)
    return canonical_header_bytes(envelope.header) + hashlib.sha256(raw).digest()


def canonical_envelope_bytes(envelope: Envelope, *, header_bytes: bytes | None = None) -> bytes:
    """The bytes the server stores; equal bytes for the same record id mean `duplicate`.

    Equal to ``canonical_json(envelope.model_dump(mode="json"))``, assembled directly: keys in
    sorted order and base64 text that JSON never escapes (the models' patterns guarantee it).
    Pass ``header_bytes`` when already computed (the server verifies them first).
    """
    header = canonical_header_bytes(envelope.header) if header_bytes is None else header_bytes
    return b'{"ciphertext":"%s","header":%s,"signature":"%s"}' % (
        envelope.ciphertext.encode("ascii"),
        header,
        envelope.signature.encode("ascii"),
    )


def key_id(public_key_raw: bytes) -> str:
    """Short id of a raw 32-byte public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


def hpke_info(recipient_key_id: str) -> bytes:
    """HPKE `info` (RFC 9180 §5.1) binding a wrapped data key to its recipient's key id."""
    return DATA_KEY_INFO_PREFIX + recipient_key_id.encode("ascii")


def b64encode(raw: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as every binary field on the wire."""
    return base64.b64encode(raw).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64; raises ValueError on anything else."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("invalid base64") from exc


# --- v2: what the project signs (DESIGN §3 "Trust: the coordinator is the root") ------------
#
# Everything that steers a device — the project's identity, its encryption keys, device
# certificates, revocations, form versions, enrolment offers, settings, erasure orders — is a
# Statement signed with the project signing key (PSK, Ed25519), which only coordinators hold.
# The server relays statements; devices and coordinators verify them against the PSK they
# pinned at enrolment and store nothing that does not verify.

STATEMENT_KINDS = (
    "project",
    "project_key",
    "device",
    "revocation",
    "form",
    "enrol_offer",
    "settings",
    "erasure",
    "withdrawal",
    "assignment",
)
StatementKind = Literal[
    "project",
    "project_key",
    "device",
    "revocation",
    "form",
    "enrol_offer",
    "settings",
    "erasure",
    "withdrawal",
    "assignment",
]
_STATEMENT_DOMAIN = b"fieldkit/v2/statement\n"
_FINGERPRINT_DOMAIN = b"fieldkit/v2/project-identity"
_FINGERPRINT_BYTES = 20
# Crockford base32 (no I, L, O, U): easy to read aloud and type.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Statement(_Model):
    """One signed statement of the project: ``body`` is the kind's model as JSON.

    Signed twice over the same bytes (:func:`statement_bytes`): by the project signing key
    (``signature``: the project says so) and by the issuing coordinator's own device key
    (``issuer_signature``: which coordinator said it, so one whose certificate is revoked can
    sign nothing more, although it once held the project key).
    """

    kind: StatementKind
    project_id: Ident
    issuer: Ident  # the device id of the coordinator who signed it
    issued_at: Stamp
    body: dict[str, Any]
    signature: Signature
    issuer_signature: Signature


class ProjectBody(_Model):
    """``project``: the project's name, the public half of its signing key, and the device id
    and Ed25519 key of the coordinator who made it — the first issuer, before any certificate
    exists (every later issuer needs a certificate)."""

    name: Name
    signing_key: B64Key
    creator: Ident
    creator_key: B64Key


class ProjectKeyBody(_Model):
    """``project_key``: an encryption key (X25519) devices seal to; the highest generation is
    the current one (a rotation announces the next)."""

    key_id: KeyId
    public_key: B64Key
    generation: Annotated[int, Field(ge=1, le=1_000_000)]


class DeviceBody(_Model):
    """``device``: a certificate — this device id holds these keys, in this role."""

    device_id: Ident
    role: Role
    x25519: B64Key
    ed25519: B64Key
    name: Name | None = None
    code_id: CodeId | None = None  # the enrolment code it spent (None: the project's creator)


class RevocationBody(_Model):
    """``revocation``: the device's certificate no longer holds; nothing more is taken from it."""

    device_id: Ident


class FormBody(_Model):
    """``form``: a form version, by the SHA-256 of its canonical definition."""

    form_id: Annotated[str, Field(min_length=1, max_length=128, pattern=_TEXT)]
    version: Annotated[str, Field(min_length=1, max_length=64, pattern=_TEXT)]
    title: Annotated[str, Field(max_length=500)] | None = None
    definition_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class EnrolOfferBody(_Model):
    """``enrol_offer``: a one-time enrolment code exists for this role until ``expires_at``.

    ``identity_mac`` proves to the enrolling laptop that whoever made the code vouches for this
    project's identity; ``sealed_secret`` lets any coordinator (who holds the project's private
    encryption key ``key_id``) check the MAC the device sends. The server can read neither.
    """

    code_id: CodeId
    role: Role
    expires_at: Stamp
    identity_mac: B64Mac
    key_id: KeyId
    sealed_secret: Annotated[str, Field(min_length=4, max_length=256, pattern=_B64)]


class EmergencyContact(_Model):
    """One emergency contact shown beside an urgent flag: a label (per language) and a number."""

    label: (
        Annotated[str, Field(min_length=1, max_length=100, pattern=_TEXT)]
        | dict[
            Annotated[str, Field(min_length=1, max_length=32, pattern=_TEXT)],
            Annotated[str, Field(min_length=1, max_length=100, pattern=_TEXT)],
        ]
    )
    contact: Annotated[str, Field(min_length=1, max_length=100, pattern=_TEXT)]


class SettingsBody(_Model):
    """``settings``: project-wide settings devices apply (the latest statement wins)."""

    emergency_contacts: Annotated[list[EmergencyContact], Field(max_length=MAX_CONTACTS)] = []


# A case order names its case only sealed: the case code HPKE-sealed to each certified device
# (a code has ~20 random bits, so any hash of it would be read back by trying them all).
MAX_CASE_SEALS = 2000
MAX_ORDER_ENVELOPES = 5000
CASE_SCOPES = ("interview", "store", "contact", "share", "statistics")


class CaseSeal(_Model):
    """The case code of an order, sealed (HPKE) to one device's certified X25519 key."""

    device_id: Ident
    sealed: Annotated[str, Field(min_length=4, max_length=256, pattern=_B64)]


class EnvelopeRef(_Model):
    """One envelope on the server, by the key the server keeps it under."""

    device_id: Ident
    record_id: Uuid


class RecordGrant(EnvelopeRef):
    """One record's data key, wrapped (HPKE) to the device a case is assigned to."""

    wrapped_key: Annotated[str, Field(min_length=4, max_length=256, pattern=_B64)]


class ErasureBody(_Model):
    """``erasure``: delete every record of a case everywhere (DOMAIN §8). Devices find their
    records by the sealed case code; the server deletes the envelopes named, no others."""

    order_id: Uuid
    cases: Annotated[list[CaseSeal], Field(max_length=MAX_CASE_SEALS)]
    envelopes: Annotated[list[EnvelopeRef], Field(max_length=MAX_ORDER_ENVELOPES)]


class WithdrawalBody(_Model):
    """``withdrawal``: the person withdrew these consent scopes for a case (DOMAIN §8)."""

    order_id: Uuid
    scopes: Annotated[
        list[Literal["interview", "store", "contact", "share", "statistics"]],
        Field(min_length=1, max_length=5),
    ]
    cases: Annotated[list[CaseSeal], Field(max_length=MAX_CASE_SEALS)]


class AssignmentBody(_Model):
    """``assignment``: a case's records become readable by one device (a transfer when they
    were assigned to another before): each record's data key wrapped to that device."""

    order_id: Uuid
    device_id: Ident
    grants: Annotated[list[RecordGrant], Field(max_length=MAX_ORDER_ENVELOPES)]


STATEMENT_BODIES: dict[str, type[BaseModel]] = {
    "project": ProjectBody,
    "project_key": ProjectKeyBody,
    "device": DeviceBody,
    "revocation": RevocationBody,
    "form": FormBody,
    "enrol_offer": EnrolOfferBody,
    "settings": SettingsBody,
    "erasure": ErasureBody,
    "withdrawal": WithdrawalBody,
    "assignment": AssignmentBody,
}


def statement_bytes(statement: Statement | dict[str, Any]) -> bytes:
    """What the PSK signs: a domain tag, then the canonical JSON of everything but the
    signature."""
    data = statement.model_dump(mode="json") if isinstance(statement, Statement) else statement
    unsigned = {k: data[k] for k in ("kind", "project_id", "issuer", "issued_at", "body")}
    return _STATEMENT_DOMAIN + canonical_json(unsigned)


def statement_id(statement: Statement) -> str:
    """A statement's id: SHA-256 (hex, 32 digits) of its signed bytes and its signature."""
    digest = hashlib.sha256(statement_bytes(statement) + b64decode(statement.signature))
    return digest.hexdigest()[:32]


def statement_body(statement: Statement) -> BaseModel:
    """The statement's body validated as its kind's model (pydantic ValidationError if not)."""
    return STATEMENT_BODIES[statement.kind].model_validate(statement.body)


def definition_sha256(definition: dict[str, Any]) -> str:
    """SHA-256 (hex) of a form definition's canonical JSON: what a ``form`` statement signs."""
    return hashlib.sha256(canonical_json(definition)).hexdigest()


def form_ref(form_id: str, version: str) -> str:
    """How one form version is named where a single text is needed (feed refs, subjects)."""
    return canonical_json([form_id, version]).decode("utf-8")


def identity_digest(signing_key_raw: bytes) -> bytes:
    """The digest behind a project's fingerprint and id (SHA-256 of a tag and the PSK)."""
    return hashlib.sha256(_FINGERPRINT_DOMAIN + signing_key_raw).digest()


def base32(raw: bytes) -> str:
    """Crockford base32 of ``raw``, most significant bits first, no padding."""
    bits = int.from_bytes(raw, "big")
    count = (len(raw) * 8 + 4) // 5
    bits <<= count * 5 - len(raw) * 8
    return "".join(CODE_ALPHABET[(bits >> (5 * (count - 1 - i))) & 31] for i in range(count))


def fingerprint(signing_key_raw: bytes) -> str:
    """The project's fingerprint: 32 Crockford base32 characters (160 bits) of its identity
    digest, in groups of four — what a person compares, or scans as a QR code."""
    text = base32(identity_digest(signing_key_raw)[:_FINGERPRINT_BYTES])
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def project_id_of(signing_key_raw: bytes) -> str:
    """The id of a project made with this signing key: it names its own root of trust."""
    return "p_" + identity_digest(signing_key_raw).hex()[:16]


# --- errors and health -------------------------------------------------------------------------


class ErrorDetail(_Model):
    """A machine code (e.g. ``unauthorized``) and a one-line message with no personal data."""

    code: str
    message: str


class ErrorBody(_Model):
    """The body of every 4xx/5xx reply."""

    error: ErrorDetail


class HealthResponse(_Model):
    """`GET /v1/health`."""

    status: Literal["ok"]
    version: str
    protocol: int
    server_time: datetime


# --- projects, enrolment, devices --------------------------------------------------------------


class DeviceKeys(_Model):
    """A device's public keys (raw 32 bytes, base64) and an optional name for the admin."""

    x25519: B64Key
    ed25519: B64Key
    name: Name | None = None


class EnrollingDevice(DeviceKeys):
    """A device joining a project: its own random id (the workspace's) and public keys."""

    device_id: Ident


class ProjectCreateRequest(_Model):
    """`POST /v1/projects` (admin token): the project's first signed statements — its identity
    (``project``), its encryption key (``project_key``) and the creating laptop's certificate
    (``device``) — and that laptop's keys. The project id is derived from the signing key."""

    statements: Annotated[list[Statement], Field(min_length=3, max_length=3)]
    device: EnrollingDevice


class ProjectCreateResponse(_Model):
    """The new project and the creating laptop's device id and token (shown once)."""

    project_id: Ident
    device_id: Ident
    token: Token
    role: Role


class EnrollRequest(_Model):
    """`POST /v1/enroll`: the code's public id (never the code itself), the device's id and
    public keys, and a MAC over them keyed from the code's secret (enrol_mac)."""

    code_id: CodeId
    device_id: Ident
    x25519: B64Key
    ed25519: B64Key
    name: Name | None = None
    mac: B64Mac


class ProjectIdentity(_Model):
    """Who the project is: its id, name and the public half of its signing key (PSK)."""

    project_id: Ident
    name: Name
    signing_key: B64Key


class EnrollResponse(_Model):
    """The enrolled device's token (shown once), the project's identity and the coordinator's
    signed offer behind the code; forms and keys follow on the first pull."""

    device_id: Ident
    token: Token
    role: Role
    project: ProjectIdentity
    offer: Statement
    server_time: datetime


class PendingEnrolment(_Model):
    """A device that spent a code and waits for a coordinator's certificate."""

    device_id: Ident
    code_id: CodeId
    x25519: B64Key
    ed25519: B64Key
    name: Name | None = None
    mac: B64Mac
    enrolled_at: datetime


class PendingEnrolmentList(_Model):
    """`GET /v1/enrolments` (coordinator)."""

    enrolments: list[PendingEnrolment]


class StatementRequest(_Model):
    """`POST /v1/statements` (coordinator): a statement it signed; a form's definition beside
    its ``form`` statement."""

    statement: Statement
    definition: dict[str, Any] | None = None


class StatementResponse(_Model):
    """`created`, or `unchanged` when the server holds that statement already."""

    status: Literal["created", "unchanged"]


class IdentityUpgradeRequest(_Model):
    """`POST /v1/projects/identity` (a coordinator of a project made before v2): the project
    statement, the caller's own certificate, then its key (and other) statements."""

    statements: Annotated[list[Statement], Field(min_length=3, max_length=MAX_BATCH)]


class RefuseEnrolmentRequest(_Model):
    """`POST /v1/enrolments/refuse` (coordinator): this enrolment's keys do not match its code."""

    device_id: Ident


class ProjectKey(_Model):
    """A project's public X25519 key (the server never holds the private half)."""

    key_id: KeyId
    public_key: B64Key


class ProjectInfo(_Model):
    """The project a device belongs to, with its public keys."""

    project_id: Ident
    name: Name
    keys: list[ProjectKey]


class FormDefinition(_Model):
    """A published form version: the JSON definition the workspace stores."""

    form_id: Annotated[str, Field(min_length=1, max_length=128, pattern=_TEXT)]
    version: Annotated[str, Field(min_length=1, max_length=64, pattern=_TEXT)]
    title: Annotated[str, Field(max_length=500)] | None = None
    definition: dict[str, Any]


class AdminDevice(_Model):
    """A device as the admin sees it (no token, no key material beyond public keys)."""

    device_id: Ident
    project_id: Ident
    role: Role
    name: str | None
    x25519: B64Key
    ed25519: B64Key
    enrolled_at: datetime
    revoked_at: datetime | None


class AdminDeviceList(_Model):
    """`GET /v1/admin/devices`."""

    devices: list[AdminDevice]


class ProjectDevice(_Model):
    """A project device as a coordinator sees it (to wrap the project key to a coordinator)."""

    device_id: Ident
    role: Role
    name: str | None
    x25519: B64Key
    ed25519: B64Key
    revoked: bool


class ProjectDeviceList(_Model):
    """`GET /v1/devices` (coordinator)."""

    devices: list[ProjectDevice]


class FormPublishRequest(FormDefinition):
    """`POST /v1/forms` (coordinator): a form or a new version of one."""


class FormPublishResponse(_Model):
    """`created`, or `unchanged` when the same version with the same definition is re-sent."""

    status: Literal["created", "unchanged"]


class KeyGrantRequest(_Model):
    """`POST /v1/key-grants` (coordinator): the project's private keys (signing and every
    encryption key), HPKE-sealed by a coordinator to another coordinator's certified key."""

    device_id: Ident
    wrapped: Annotated[str, Field(min_length=4, max_length=MAX_GRANT_CHARS, pattern=_B64)]


class KeyGrantResponse(_Model):
    """The grant is stored and will reach the device on its next pull."""

    status: Literal["created"]


# --- push and pull -----------------------------------------------------------------------------


class PushRequest(_Model):
    """`POST /v1/push`: a batch of sealed envelopes."""

    envelopes: Annotated[list[Envelope], Field(min_length=1, max_length=MAX_BATCH)]


class PushResult(_Model):
    """Per-envelope outcome; only `created` and `duplicate` mean the server holds it."""

    record_id: str
    status: Literal["created", "duplicate", "conflict", "rejected"]
    reason: str | None = None


class PushResponse(_Model):
    """One result per envelope, in request order; all committed before the reply."""

    results: list[PushResult]


class FormChange(_Model):
    """A form version published to a project without a signing identity (before v2)."""

    seq: int
    type: Literal["form"] = "form"
    form: FormDefinition


class ProjectKeyChange(_Model):
    """A project public key of a project without a signing identity (before v2)."""

    seq: int
    type: Literal["project_key"] = "project_key"
    key_id: KeyId
    public_key: B64Key


class EnvelopeChange(_Model):
    """A sealed record, for coordinators (a device never gets its own back); ``received_at`` is
    when the server stored it (the server's clock: informative, not signed)."""

    seq: int
    type: Literal["envelope"] = "envelope"
    envelope: Envelope
    received_at: datetime | None = None


class RevocationChange(_Model):
    """The server's admin revoked a device (its token stops working); not signed, so devices
    of a project with a signing identity only note it."""

    seq: int
    type: Literal["revocation"] = "revocation"
    device_id: Ident
    revoked_at: datetime


class KeyGrantChange(_Model):
    """The project's private keys sealed (HPKE) to the pulling device by a coordinator."""

    seq: int
    type: Literal["key_grant"] = "key_grant"
    wrapped: str
    granted_by: Ident


class StatementChange(_Model):
    """A statement signed by the project; a form's definition travels beside its statement."""

    seq: int
    type: Literal["statement"] = "statement"
    statement: Statement
    definition: dict[str, Any] | None = None


class AssignedChange(_Model):
    """A record of a case assigned to the pulling device (an ``assignment`` statement names
    it and holds its data key wrapped to that device)."""

    seq: int
    type: Literal["assigned"] = "assigned"
    envelope: Envelope


class EnvelopeFetchRequest(_Model):
    """`POST /v1/envelopes/fetch` (coordinator): envelopes by their server key."""

    refs: Annotated[list[EnvelopeRef], Field(min_length=1, max_length=MAX_ORDER_ENVELOPES)]


class EnvelopeFetchResponse(_Model):
    """The envelopes found, as stored (those not found are left out)."""

    envelopes: list[Envelope]


Change = Annotated[
    StatementChange
    | EnvelopeChange
    | AssignedChange
    | KeyGrantChange
    | FormChange
    | ProjectKeyChange
    | RevocationChange,
    Field(discriminator="type"),
]


class PullResponse(_Model):
    """`GET /v1/pull?cursor=C&limit=L`: changes after C in commit order."""

    changes: list[Change]
    # Opaque to the client: send it back as `cursor` on the next pull ("0" or absent at start).
    next_cursor: str
    has_more: bool
