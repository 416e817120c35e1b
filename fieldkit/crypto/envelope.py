"""Sealed records: what leaves the laptop (DESIGN §3, the sync contract's ``Envelope``).

A record is sealed once, on the device that captured it::

    body       = zlib(canonical JSON of {"answers": …, "created_at": …, "finalized_at": …})
    ciphertext = nonce(12) || AES-256-GCM(data_key, nonce, body, aad=canonical header bytes)
    recipients = [{key_id, HPKE(project or device X25519 key, data_key)}]   (RFC 9180 base mode)
    signature  = Ed25519(device key, canonical header bytes || SHA-256(ciphertext))

The header travels in the clear so the server can route and deduplicate; binding it as AAD and
signing it means the server can neither read, re-route nor forge a record. Everything here is
a pure function of keys and bytes except ``seal_record``, which reads the keys from a workspace.

This module imports ``cryptography`` at the top (a coordinator opens thousands of envelopes a
second, so per-call imports show); import it lazily from anything on the CLI's start-up path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fieldkit.crypto.hpke import key_id, public_raw, unwrap, wrap
from fieldkit.errors import CryptoError
from sync.protocol import canonical_json as _encode
from sync.protocol import hpke_info as _hpke_info

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    from fieldkit.store import Workspace

__all__ = [
    "ENVELOPE_VERSION",
    "KINDS",
    "STATE_DEVICE_ID",
    "STATE_PROJECT_ID",
    "STATE_PROJECT_KEYS",
    "OpenedEnvelope",
    "canonical_header_bytes",
    "canonical_json",
    "data_key_info",
    "device_private_keys",
    "keys_by_id",
    "open_envelope",
    "project_keys",
    "read_envelope",
    "seal",
    "seal_record",
    "signed_bytes",
    "verify_envelope",
]

ENVELOPE_VERSION = 1
KINDS = frozenset({"record", "case_event", "withdrawal"})
_NONCE_BYTES = 12
_MAX_BODY_BYTES = 16 * 1024 * 1024  # a decompression bomb stops here, not in memory
_HEADER_FIELDS = {
    "v",
    "record_id",
    "project_id",
    "form_id",
    "form_version",
    "kind",
    "case_id",
    "replaces",
    "device_id",
    "capture_day",
    "hlc",
    "recipients",
}
_OPTIONAL_TEXT = {"case_id", "replaces"}


@dataclass(frozen=True)
class OpenedEnvelope:
    """A verified and decrypted envelope: its routing header and its body (answers and times)."""

    header: dict[str, Any]
    body: dict[str, Any]

    @property
    def record_id(self) -> str:
        """The record's UUID."""
        return str(self.header["record_id"])


def canonical_json(value: Any) -> bytes:
    """The one JSON encoding of the wire (``sync.protocol.canonical_json``)."""
    return _encode(value)


def canonical_header_bytes(header: Mapping[str, Any]) -> bytes:
    """The header bytes that are AES-GCM's associated data and the start of what is signed."""
    return canonical_json(dict(header))


def signed_bytes(header: Mapping[str, Any], ciphertext: bytes) -> bytes:
    """What the device signs: the canonical header then SHA-256 of the raw ciphertext."""
    return canonical_header_bytes(header) + hashlib.sha256(ciphertext).digest()


def data_key_info(recipient_key_id: str) -> bytes:
    """HPKE ``info`` for wrapping a data key: binds the wrap to the recipient's key id."""
    return _hpke_info(recipient_key_id)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise CryptoError(f"envelope {what} is not base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CryptoError(f"envelope {what} is not valid base64") from None


def seal(
    *,
    record_id: str,
    project_id: str,
    form_id: str,
    form_version: str,
    device_id: str,
    capture_day: str,
    hlc: str,
    body: Mapping[str, Any],
    recipients: Sequence[X25519PublicKey],
    signing_key: Ed25519PrivateKey,
    kind: str = "record",
    case_id: str | None = None,
    replaces: str | None = None,
) -> bytes:
    """Seal ``body`` for every recipient key; returns the envelope's canonical JSON bytes."""
    if kind not in KINDS:
        raise CryptoError(f"unknown envelope kind {kind!r}")
    if not recipients:
        raise CryptoError("an envelope needs at least one recipient key")
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped: list[dict[str, str]] = []
    seen: set[str] = set()
    for public_key in recipients:
        kid = key_id(public_key)
        if kid in seen:
            continue
        seen.add(kid)
        blob = wrap(data_key, public_key=public_key, info=data_key_info(kid))
        wrapped.append({"key_id": kid, "wrapped_key": _b64(blob)})
    header: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "record_id": record_id,
        "project_id": project_id,
        "form_id": form_id,
        "form_version": form_version,
        "kind": kind,
        "case_id": case_id,
        "replaces": replaces,
        "device_id": device_id,
        "capture_day": capture_day,
        "hlc": hlc,
        "recipients": wrapped,
    }
    aad = canonical_header_bytes(header)
    nonce = os.urandom(_NONCE_BYTES)
    plaintext = zlib.compress(canonical_json(dict(body)), 6)
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
    signature = signing_key.sign(aad + hashlib.sha256(ciphertext).digest())
    return canonical_json(
        {"header": header, "ciphertext": _b64(ciphertext), "signature": _b64(signature)}
    )


def _check_header(header: Any) -> dict[str, Any]:
    if not isinstance(header, dict) or set(header) != _HEADER_FIELDS:
        raise CryptoError("envelope header has missing or unknown fields")
    if header["v"] != ENVELOPE_VERSION:
        raise CryptoError("envelope version is not supported")
    if header["kind"] not in KINDS:
        raise CryptoError("envelope kind is not supported")
    for name in _HEADER_FIELDS - {"v", "recipients"}:
        value = header[name]
        if not (isinstance(value, str) or (value is None and name in _OPTIONAL_TEXT)):
            raise CryptoError(f"envelope header field {name} is not text")
    recipients = header["recipients"]
    if not isinstance(recipients, list) or not recipients:
        raise CryptoError("envelope has no recipients")
    for item in recipients:
        if (
            not isinstance(item, dict)
            or set(item) != {"key_id", "wrapped_key"}
            or not isinstance(item["key_id"], str)
        ):
            raise CryptoError("envelope recipient is malformed")
    return header


def read_envelope(blob: bytes | str | Mapping[str, Any]) -> tuple[dict[str, Any], bytes, bytes]:
    """Parse an envelope without checking it: (header, raw ciphertext, raw signature)."""
    if isinstance(blob, dict):
        data: Any = blob
    elif isinstance(blob, Mapping):
        data = dict(blob)
    else:
        try:
            data = json.loads(blob)
        except (ValueError, UnicodeDecodeError):
            raise CryptoError("envelope is not valid JSON") from None
    if not isinstance(data, dict) or set(data) != {"header", "ciphertext", "signature"}:
        raise CryptoError("envelope has missing or unknown fields")
    header = _check_header(data["header"])
    ciphertext = _unb64(data["ciphertext"], "ciphertext")
    signature = _unb64(data["signature"], "signature")
    if len(ciphertext) < _NONCE_BYTES + 16:
        raise CryptoError("envelope ciphertext is too short")
    return header, ciphertext, signature


def verify_envelope(
    blob: bytes | str | Mapping[str, Any],
    *,
    verify_key: Ed25519PublicKey,
    project_id: str | None = None,
    device_id: str | None = None,
) -> dict[str, Any]:
    """Check the Ed25519 signature (and, when given, project and device); returns the header."""
    header, _, _ = _verified(
        blob, verify_key=verify_key, project_id=project_id, device_id=device_id
    )
    return header


def _verified(
    blob: bytes | str | Mapping[str, Any],
    *,
    verify_key: Ed25519PublicKey,
    project_id: str | None,
    device_id: str | None,
) -> tuple[dict[str, Any], bytes, bytes]:
    """(header, raw ciphertext, canonical header bytes) of an envelope whose signature holds."""
    header, ciphertext, signature = read_envelope(blob)
    aad = canonical_header_bytes(header)
    try:
        verify_key.verify(signature, aad + hashlib.sha256(ciphertext).digest())
    except InvalidSignature:
        raise CryptoError(
            f"record {_safe_id(header)} has a signature that does not verify"
        ) from None
    if project_id is not None and header["project_id"] != project_id:
        raise CryptoError(f"record {_safe_id(header)} belongs to another project")
    if device_id is not None and header["device_id"] != device_id:
        raise CryptoError(f"record {_safe_id(header)} names another device")
    return header, ciphertext, aad


def keys_by_id(private_keys: Iterable[X25519PrivateKey]) -> dict[str, X25519PrivateKey]:
    """Private keys by the key id of their public half (what envelope recipients name)."""
    return {key_id(public_raw(k.public_key())): k for k in private_keys}


def _safe_id(header: Mapping[str, Any]) -> str:
    # Record ids are UUIDs made on the device; anything else is not echoed into an error line.
    rid = str(header.get("record_id", ""))
    return rid if len(rid) <= 64 and all(c.isalnum() or c == "-" for c in rid) else "(bad id)"


def open_envelope(
    blob: bytes | str | Mapping[str, Any],
    *,
    private_keys: Iterable[X25519PrivateKey] | Mapping[str, X25519PrivateKey],
    verify_key: Ed25519PublicKey,
    project_id: str | None = None,
    device_id: str | None = None,
) -> OpenedEnvelope:
    """Verify and decrypt an envelope with whichever of ``private_keys`` it was sealed to
    (a list of keys, or a mapping key id → key from ``keys_by_id`` to skip recomputing ids)."""
    header, ciphertext, aad = _verified(
        blob, verify_key=verify_key, project_id=project_id, device_id=device_id
    )
    by_id = private_keys if isinstance(private_keys, Mapping) else keys_by_id(private_keys)
    data_key: bytes | None = None
    for item in header["recipients"]:
        private_key = by_id.get(item["key_id"])
        if private_key is None:
            continue
        wrapped = _unb64(item["wrapped_key"], "wrapped key")
        data_key = unwrap(wrapped, private_key=private_key, info=data_key_info(item["key_id"]))
        break
    if data_key is None or len(data_key) != 32:
        raise CryptoError(f"record {_safe_id(header)} is not sealed to any key held here")
    nonce, sealed = ciphertext[:_NONCE_BYTES], ciphertext[_NONCE_BYTES:]
    try:
        compressed = AESGCM(data_key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise CryptoError(f"record {_safe_id(header)} does not decrypt") from None
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(compressed, _MAX_BODY_BYTES)
    except zlib.error:
        raise CryptoError(f"record {_safe_id(header)} has a damaged body") from None
    if inflater.unconsumed_tail:
        raise CryptoError(f"record {_safe_id(header)} has a body over the size limit")
    try:
        body = json.loads(plain)
    except (ValueError, UnicodeDecodeError):
        raise CryptoError(f"record {_safe_id(header)} has a damaged body") from None
    if not isinstance(body, dict):
        raise CryptoError(f"record {_safe_id(header)} has a damaged body")
    return OpenedEnvelope(header=header, body=body)


# --- the workspace side -------------------------------------------------------------------

# Keys in ``ws.state`` written by enrolment / project creation (fieldkit.exchange) and read here.
STATE_PROJECT_ID = "sync.project_id"
STATE_PROJECT_KEYS = "sync.project_keys"  # [{"key_id", "public_key" (b64), "private_key"? (b64)}]
STATE_DEVICE_ID = "sync.device_id"


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _capture_day(record: Any) -> str:
    kept = getattr(record, "capture_day", None)
    if isinstance(kept, str) and len(kept) == 10:
        return kept
    created = getattr(record, "created_at", None) or getattr(record, "finalized_at", None)
    if isinstance(created, datetime | date):
        return created.isoformat()[:10]
    text = str(created or "")
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return text[:10]
    return date.today().isoformat()


def _hlc(record: Any, device_id: str) -> str:
    existing = getattr(record, "hlc", None)
    if isinstance(existing, str) and existing:
        return existing
    # A hybrid logical clock text (Kulkarni et al. 2014): wall-clock milliseconds, a logical
    # counter and the node, zero-padded so that the text sorts as the clock does.
    stamp = getattr(record, "finalized_at", None) or getattr(record, "updated_at", None)
    if isinstance(stamp, str):
        try:
            stamp = datetime.fromisoformat(stamp)
        except ValueError:
            stamp = None
    millis = int(stamp.timestamp() * 1000) if isinstance(stamp, datetime) else 0
    return f"{millis:015d}-{0:05d}-{device_id}"  # the text form of fieldkit.clock


def device_private_keys(ws: Workspace) -> tuple[X25519PrivateKey, Ed25519PrivateKey]:
    """The device's X25519 (receive) and Ed25519 (sign) private keys from ``ws.device``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    device = ws.device
    x = _first_attr(device, ("x25519", "x25519_private", "x25519_key", "receive_key"))
    e = _first_attr(device, ("ed25519", "ed25519_private", "ed25519_key", "signing_key"))
    if isinstance(x, bytes | bytearray):
        x = X25519PrivateKey.from_private_bytes(bytes(x))
    if isinstance(e, bytes | bytearray):
        e = Ed25519PrivateKey.from_private_bytes(bytes(e))
    if not isinstance(x, X25519PrivateKey) or not isinstance(e, Ed25519PrivateKey):
        raise CryptoError("this workspace holds no device keys")
    return x, e


def _first_attr(obj: Any, names: Sequence[str]) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def project_keys(ws: Workspace) -> list[dict[str, str]]:
    """The project keys known here: ``key_id``, ``public_key`` and maybe ``private_key`` (b64)."""
    raw = ws.state.get(STATE_PROJECT_KEYS)
    return [dict(k) for k in raw] if isinstance(raw, list) else []


def seal_record(ws: Workspace, record: Any) -> bytes | None:
    """Seal a finalized record for the project key(s) and this device; None if no project key."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    keys = project_keys(ws)
    project_id = ws.state.get(STATE_PROJECT_ID)
    device_id = ws.state.get(STATE_DEVICE_ID)
    if not keys or not project_id or not device_id:
        return None
    x_private, signing_key = device_private_keys(ws)
    recipients = [
        X25519PublicKey.from_public_bytes(base64.b64decode(k["public_key"])) for k in keys
    ]
    recipients.append(x_private.public_key())
    body = {
        "answers": dict(record.answers),
        "created_at": _iso(getattr(record, "created_at", None)),
        "finalized_at": _iso(getattr(record, "finalized_at", None)),
    }
    return seal(
        record_id=str(record.id),
        project_id=str(project_id),
        form_id=str(record.form_id),
        form_version=str(record.form_version),
        kind="record",
        case_id=getattr(record, "case_id", None),
        replaces=getattr(record, "replaces", None),
        device_id=str(device_id),
        capture_day=_capture_day(record),
        hlc=_hlc(record, str(device_id)),
        body=body,
        recipients=recipients,
        signing_key=signing_key,
    )
