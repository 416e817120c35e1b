"""HPKE (RFC 9180) base mode with one fixed suite, and the key ids every recipient is named by.

The suite is X25519 / HKDF-SHA256 / AES-128-GCM (RFC 9180 §7: KEM 0x0020, KDF 0x0001,
AEAD 0x0001) through ``cryptography``'s ``hpke`` module. HPKE's single-shot ``Seal`` output
is ``enc || ct``: the 32-byte encapsulated ephemeral key followed by the AEAD ciphertext.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from fieldkit.errors import CryptoError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

__all__ = ["key_id", "public_raw", "unwrap", "wrap"]


def public_raw(public_key: X25519PublicKey) -> bytes:
    """The 32 raw bytes of an X25519 public key (RFC 7748 encoding)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: X25519PublicKey | bytes) -> str:
    """The short name of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    from sync.protocol import key_id as raw_key_id

    return raw_key_id(public_key if isinstance(public_key, bytes) else public_raw(public_key))


@functools.cache
def _suite() -> Any:
    from cryptography.hazmat.primitives import hpke

    return hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


def wrap(plaintext: bytes, *, public_key: X25519PublicKey, info: bytes) -> bytes:
    """HPKE-seal ``plaintext`` to ``public_key``; returns ``enc || ct`` (RFC 9180 §6.1)."""
    result: bytes = _suite().encrypt(plaintext, public_key, info)
    return result


def unwrap(blob: bytes, *, private_key: X25519PrivateKey, info: bytes) -> bytes:
    """Open an HPKE ``enc || ct`` with ``private_key``; CryptoError when it does not open."""
    try:
        result: bytes = _suite().decrypt(blob, private_key, info)
    except Exception:  # InvalidTag, ValueError on a short blob: all mean "not for this key"
        raise CryptoError("a wrapped key does not open with this key") from None
    return result
