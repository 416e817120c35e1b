"""The enrolment code's cryptography (DESIGN §3 "Enrolment codes are made by a coordinator").

A code carries an 80-bit random secret S. From S come, by HKDF-SHA256 (RFC 5869) with distinct
labels, the code's public id (what the server is told, to find the offer) and a MAC key. The
coordinator MACs the project's identity with it (so the enrolling laptop knows the identity it
is shown is the one the code was made for); the laptop MACs its own keys with it (so the
coordinator knows the keys the server relays are the ones the laptop sent). A server that
holds only the code id can forge neither.
"""

from __future__ import annotations

import hashlib
import hmac

from sync.protocol import canonical_json

__all__ = [
    "SECRET_BYTES",
    "code_id",
    "device_mac",
    "identity_mac",
    "mac_matches",
]

SECRET_BYTES = 10  # 80 bits: one-time, expiring, never sent to the server
_ID_INFO = b"fieldkit/v2/enrol-code-id"
_MAC_INFO = b"fieldkit/v2/enrol-mac-key"
_IDENTITY_TAG = b"fieldkit/v2/enrol-identity\n"
_DEVICE_TAG = b"fieldkit/v2/enrol-device\n"


def _hkdf(secret: bytes, info: bytes, length: int = 32) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def code_id(secret: bytes) -> str:
    """The code's public id (32 hex digits): how the server finds the offer, learning no S."""
    return _hkdf(secret, _ID_INFO, 16).hex()


def _mac(secret: bytes, tag: bytes, fields: dict[str, object]) -> bytes:
    key = _hkdf(secret, _MAC_INFO)
    return hmac.new(key, tag + canonical_json(fields), hashlib.sha256).digest()


def identity_mac(secret: bytes, *, project_id: str, signing_key: str) -> bytes:
    """The coordinator's MAC over the project identity (id and PSK public key, base64)."""
    return _mac(secret, _IDENTITY_TAG, {"project_id": project_id, "signing_key": signing_key})


def device_mac(
    secret: bytes,
    *,
    code: str,
    device_id: str,
    x25519: str,
    ed25519: str,
    name: str | None,
) -> bytes:
    """The enrolling laptop's MAC over its id, public keys (base64) and name."""
    fields: dict[str, object] = {
        "code_id": code,
        "device_id": device_id,
        "x25519": x25519,
        "ed25519": ed25519,
        "name": name,
    }
    return _mac(secret, _DEVICE_TAG, fields)


def mac_matches(expected: bytes, given: bytes) -> bool:
    """Constant-time comparison of two MACs."""
    return hmac.compare_digest(expected, given)
