"""Sealed records: what leaves the laptop (DESIGN §3, ``sync.protocol.Envelope``).

A record is sealed once, on the device that captured it::

    body       = pad(zlib(canonical JSON of {"answers": …, "created_at": …, "finalized_at": …}))
    ciphertext = nonce(12) || AES-256-GCM(data_key, nonce, body, aad=canonical header bytes)
    recipients = [{key_id, HPKE(project or device X25519 key, data_key)}]   (RFC 9180 base mode)
    signature  = Ed25519(device key, canonical header bytes || SHA-256(ciphertext))

The header travels in the clear so the server can route and deduplicate; binding it as AAD and
signing it means the server can neither read, re-route nor forge a record. The body is padded
to a size bucket (:func:`padded_size`), so the ciphertext's length tells little about which
branch of the interview was taken. What is signed and the wire shape are defined once, in
``sync.protocol`` (``Envelope``, ``signed_bytes``); this module is pure — keys and bytes in,
bytes out — and never reads a workspace.

This module imports ``cryptography`` at the top (a coordinator opens thousands of envelopes a
second, so per-call imports show); import it lazily from anything on the CLI's start-up path.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from fieldkit.crypto.hpke import key_id, public_raw, unwrap, wrap
from fieldkit.errors import CryptoError
from sync.protocol import (
    ENVELOPE_KINDS,
    Envelope,
    b64encode,
    canonical_header_bytes,
    canonical_json,
    hpke_info,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

__all__ = [
    "ENVELOPE_VERSION",
    "envelope_data_key",
    "OpenedEnvelope",
    "keys_by_id",
    "open_envelope",
    "padded_size",
    "read_envelope",
    "seal",
    "verify_envelope",
]

ENVELOPE_VERSION = 2
_NONCE_BYTES = 12
_MAX_BODY_BYTES = 16 * 1024 * 1024  # a decompression bomb stops here, not in memory
_LENGTH_BYTES = 4
# Size buckets of the padded body: 256 bytes doubling to 64 KiB, then multiples of 64 KiB. A
# record's length then says which bucket it fell in, not how many answers it holds.
_SMALLEST_BUCKET = 256
_LARGEST_DOUBLING = 64 * 1024


@dataclass(frozen=True)
class OpenedEnvelope:
    """A verified and decrypted envelope: its routing header and its body (answers and times)."""

    header: dict[str, Any]
    body: dict[str, Any]

    @property
    def record_id(self) -> str:
        """The record's UUID."""
        return str(self.header["record_id"])


def padded_size(length: int) -> int:
    """The bucket a body of ``length`` bytes is padded to (always at least ``length``)."""
    size = _SMALLEST_BUCKET
    while size < length and size < _LARGEST_DOUBLING:
        size *= 2
    if size >= length:
        return size
    return -(-length // _LARGEST_DOUBLING) * _LARGEST_DOUBLING


def _pad(compressed: bytes) -> bytes:
    framed = len(compressed).to_bytes(_LENGTH_BYTES, "big") + compressed
    return framed + bytes(padded_size(len(framed)) - len(framed))


def _unpad(padded: bytes, rid: str) -> bytes:
    length = int.from_bytes(padded[:_LENGTH_BYTES], "big")
    if len(padded) < _LENGTH_BYTES or length > len(padded) - _LENGTH_BYTES:
        raise CryptoError(f"record {rid} has a damaged body")
    return padded[_LENGTH_BYTES : _LENGTH_BYTES + length]


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
    if kind not in ENVELOPE_KINDS:
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
        blob = wrap(data_key, public_key=public_key, info=hpke_info(kid))
        wrapped.append({"key_id": kid, "wrapped_key": b64encode(blob)})
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
    plaintext = _pad(zlib.compress(canonical_json(dict(body)), 6))
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
    signature = signing_key.sign(aad + hashlib.sha256(ciphertext).digest())
    return canonical_json(
        {"header": header, "ciphertext": b64encode(ciphertext), "signature": b64encode(signature)}
    )


def read_envelope(blob: bytes | str | Mapping[str, Any]) -> tuple[dict[str, Any], bytes, bytes]:
    """Parse an envelope against the wire model without checking it:
    (header as JSON data, raw ciphertext, raw signature)."""
    from sync.protocol import b64decode

    try:
        if isinstance(blob, Mapping):
            envelope = Envelope.model_validate(dict(blob))
        else:
            envelope = Envelope.model_validate_json(blob)
    except ValidationError:
        raise CryptoError("envelope does not follow the protocol") from None
    except (ValueError, UnicodeDecodeError):
        raise CryptoError("envelope is not valid JSON") from None
    try:
        ciphertext = b64decode(envelope.ciphertext)
        signature = b64decode(envelope.signature)
    except ValueError:
        raise CryptoError("envelope is not valid base64") from None
    if len(ciphertext) < _NONCE_BYTES + 16:
        raise CryptoError("envelope ciphertext is too short")
    return envelope.header.model_dump(mode="json"), ciphertext, signature


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
            f"record {header['record_id']} has a signature that does not verify"
        ) from None
    if project_id is not None and header["project_id"] != project_id:
        raise CryptoError(f"record {header['record_id']} belongs to another project")
    if device_id is not None and header["device_id"] != device_id:
        raise CryptoError(f"record {header['record_id']} names another device")
    return header, ciphertext, aad


def keys_by_id(private_keys: Iterable[X25519PrivateKey]) -> dict[str, X25519PrivateKey]:
    """Private keys by the key id of their public half (what envelope recipients name)."""
    return {key_id(public_raw(k.public_key())): k for k in private_keys}


def _data_key(
    header: Mapping[str, Any],
    private_keys: Iterable[X25519PrivateKey] | Mapping[str, X25519PrivateKey],
) -> bytes | None:
    from sync.protocol import b64decode

    by_id = private_keys if isinstance(private_keys, Mapping) else keys_by_id(private_keys)
    for item in header["recipients"]:
        private_key = by_id.get(item["key_id"])
        if private_key is not None:
            wrapped = b64decode(item["wrapped_key"])
            return unwrap(wrapped, private_key=private_key, info=hpke_info(item["key_id"]))
    return None


def envelope_data_key(
    blob: bytes | str | Mapping[str, Any],
    *,
    private_keys: Iterable[X25519PrivateKey],
    verify_key: Ed25519PublicKey,
    project_id: str,
) -> tuple[dict[str, Any], bytes]:
    """The verified header of an envelope and its data key (a coordinator re-wrapping it for
    the device a case is assigned to); CryptoError when it does not verify or open."""
    header, _, _ = _verified(blob, verify_key=verify_key, project_id=project_id, device_id=None)
    data_key = _data_key(header, list(private_keys))
    if data_key is None or len(data_key) != 32:
        raise CryptoError(f"record {header['record_id']} is not sealed to any key held here")
    return header, data_key


def open_envelope(
    blob: bytes | str | Mapping[str, Any],
    *,
    private_keys: Iterable[X25519PrivateKey] | Mapping[str, X25519PrivateKey],
    verify_key: Ed25519PublicKey,
    project_id: str | None = None,
    device_id: str | None = None,
    data_key: bytes | None = None,
) -> OpenedEnvelope:
    """Verify and decrypt an envelope with whichever of ``private_keys`` it was sealed to
    (a list of keys, or a mapping key id → key from ``keys_by_id`` to skip recomputing ids),
    or with its ``data_key`` when given (a case assigned to this device)."""
    header, ciphertext, aad = _verified(
        blob, verify_key=verify_key, project_id=project_id, device_id=device_id
    )
    rid = str(header["record_id"])  # a UUID: the wire model's pattern guarantees it
    if data_key is None:
        data_key = _data_key(header, private_keys)
    if data_key is None or len(data_key) != 32:
        raise CryptoError(f"record {rid} is not sealed to any key held here")
    nonce, sealed = ciphertext[:_NONCE_BYTES], ciphertext[_NONCE_BYTES:]
    try:
        compressed = AESGCM(data_key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise CryptoError(f"record {rid} does not decrypt") from None
    if header["v"] >= 2:
        compressed = _unpad(compressed, rid)
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(compressed, _MAX_BODY_BYTES)
    except zlib.error:
        raise CryptoError(f"record {rid} has a damaged body") from None
    if inflater.unconsumed_tail:
        raise CryptoError(f"record {rid} has a body over the size limit")
    try:
        body = json.loads(plain)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CryptoError(f"record {rid} has a damaged body") from None
    if not isinstance(body, dict):
        raise CryptoError(f"record {rid} has a damaged body")
    return OpenedEnvelope(header=header, body=body)
