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
    "DATA_KEY_INFO_PREFIX",
    "ENVELOPE_KINDS",
    "MAX_BATCH",
    "MAX_CIPHERTEXT_CHARS",
    "MAX_PULL_LIMIT",
    "PROTOCOL_VERSION",
    "AdminDevice",
    "AdminDeviceList",
    "Change",
    "DeviceKeys",
    "EnrollCodeRequest",
    "EnrollCodeResponse",
    "EnrollRequest",
    "EnrollResponse",
    "Envelope",
    "EnvelopeChange",
    "EnvelopeHeader",
    "ErrorBody",
    "ErrorDetail",
    "FormChange",
    "FormDefinition",
    "FormPublishRequest",
    "FormPublishResponse",
    "HealthResponse",
    "KeyGrantChange",
    "KeyGrantRequest",
    "KeyGrantResponse",
    "ProjectCreateRequest",
    "ProjectCreateResponse",
    "ProjectDevice",
    "ProjectDeviceList",
    "ProjectInfo",
    "ProjectKey",
    "ProjectKeyChange",
    "PullResponse",
    "PushRequest",
    "PushResponse",
    "PushResult",
    "Recipient",
    "RevocationChange",
    "b64decode",
    "b64encode",
    "canonical_envelope_bytes",
    "canonical_header_bytes",
    "canonical_json",
    "hpke_info",
    "key_id",
    "signed_bytes",
]

PROTOCOL_VERSION = 1

# Hard ceilings of the protocol itself. A server may set lower limits in its settings (and
# reports items over them as `rejected`); nothing above these is ever valid on the wire.
MAX_BATCH = 1000  # envelopes per push
MAX_PULL_LIMIT = 5000  # changes per pull page
MAX_CIPHERTEXT_CHARS = 8 * 1024 * 1024  # base64 characters of one envelope's ciphertext
MAX_RECIPIENTS = 16

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

    v: Literal[1] = 1
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


class ProjectCreateRequest(_Model):
    """`POST /v1/projects` (admin token): the project's public key and its first coordinator."""

    name: Name
    public_key: B64Key
    key_id: KeyId
    coordinator: DeviceKeys


class ProjectCreateResponse(_Model):
    """The new project and the creating laptop's device id and token (shown once)."""

    project_id: Ident
    device_id: Ident
    token: Token
    role: Role


class EnrollCodeRequest(_Model):
    """`POST /v1/admin/enroll-codes`; without project_id the server's only project is used."""

    role: Role
    project_id: Ident | None = None
    expires_in_seconds: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] = 24 * 3600


class EnrollCodeResponse(_Model):
    """A one-time enrolment code (shown once) and when it expires."""

    code: Annotated[str, Field(min_length=8, max_length=64)]
    expires_at: datetime


class EnrollRequest(_Model):
    """`POST /v1/enroll`: a one-time code and the device's public keys."""

    code: Annotated[str, Field(min_length=1, max_length=64)]
    x25519: B64Key
    ed25519: B64Key
    name: Name | None = None


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


class EnrollResponse(_Model):
    """The enrolled device's id and token (shown once), its project, keys and forms."""

    device_id: Ident
    token: Token
    role: Role
    project: ProjectInfo
    forms: list[FormDefinition]
    server_time: datetime


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
    """`POST /v1/key-grants` (coordinator): the project private key, HPKE-wrapped to a device."""

    device_id: Ident
    key_id: KeyId
    wrapped_private_key: Annotated[str, Field(min_length=4, max_length=1024, pattern=_B64)]


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
    """A form version published to the project."""

    seq: int
    type: Literal["form"] = "form"
    form: FormDefinition


class ProjectKeyChange(_Model):
    """A project public key (the first at project creation; more on key rotation)."""

    seq: int
    type: Literal["project_key"] = "project_key"
    key_id: KeyId
    public_key: B64Key


class EnvelopeChange(_Model):
    """A sealed record: the device's own for a field device, every one for a coordinator."""

    seq: int
    type: Literal["envelope"] = "envelope"
    envelope: Envelope


class RevocationChange(_Model):
    """A device of the project was revoked; its later pushes are refused."""

    seq: int
    type: Literal["revocation"] = "revocation"
    device_id: Ident
    revoked_at: datetime


class KeyGrantChange(_Model):
    """The project private key wrapped (HPKE) to the pulling device by a coordinator."""

    seq: int
    type: Literal["key_grant"] = "key_grant"
    key_id: KeyId
    wrapped_private_key: str
    granted_by: Ident


Change = Annotated[
    FormChange | ProjectKeyChange | EnvelopeChange | RevocationChange | KeyGrantChange,
    Field(discriminator="type"),
]


class PullResponse(_Model):
    """`GET /v1/pull?cursor=C&limit=L`: changes after C in commit order."""

    changes: list[Change]
    # Opaque to the client: send it back as `cursor` on the next pull ("0" or absent at start).
    next_cursor: str
    has_more: bool
