"""The key hierarchy of a workspace: the one place that derives keys (DESIGN §3).

    passphrase ──Argon2id (≥ 64 MiB, t=3)──► KEK  ──AES-256-GCM wrap──► DMK
    recovery key (200 random bits) ──HKDF──► KEK' ──AES-256-GCM wrap──► DMK
    DMK ──HKDF("sqlcipher")──► raw SQLCipher key
    DMK ──HKDF("audit")──────► audit-log anchor MAC key
    DMK ──HKDF("keyfile")────► key-file MAC key
    (the three derived keys together are the ``SessionKeys`` the unlock cache may hold)

The DMK (device master key) is 256 random bits made once at ``init``; changing the passphrase
re-wraps it (O(1), nothing re-encrypted). Argon2id parameters travel with each wrap so they can
be raised later without breaking old key files (RFC 9106 §4 gives t=3, 64 MiB as the second
recommended option for memory-constrained use). The recovery key is random with 200 bits of
entropy, so it needs no stretching: HKDF (RFC 5869) is enough and keeps recovery instant.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_ITERATIONS",
    "DEFAULT_LANES",
    "DEFAULT_MEMORY_KIB",
    "DMK_BYTES",
    "KdfParams",
    "SessionKeys",
    "UnwrapFailed",
    "audit_key",
    "derive_passphrase_kek",
    "derive_recovery_kek",
    "format_recovery_key",
    "keyfile_mac_key",
    "mac",
    "new_master_key",
    "new_recovery_key",
    "parse_recovery_key",
    "sqlcipher_key",
    "unwrap_key",
    "wrap_key",
]

DMK_BYTES = 32
# Today's Argon2id parameters for new wraps (raise them here; old key files upgrade on unlock).
DEFAULT_MEMORY_KIB = 64 * 1024
DEFAULT_ITERATIONS = 3
DEFAULT_LANES = 4
_RECOVERY_BYTES = 25  # 200 bits: 40 base32 characters, printed as 8 groups of 5
_NONCE_BYTES = 12  # AES-GCM's 96-bit nonce (NIST SP 800-38D §8.2); random per wrap


class UnwrapFailed(Exception):
    """The wrap did not open: wrong passphrase or recovery key (or a wrap altered on purpose)."""


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters, stored beside each passphrase wrap."""

    salt: bytes
    memory_kib: int = DEFAULT_MEMORY_KIB
    iterations: int = DEFAULT_ITERATIONS
    lanes: int = DEFAULT_LANES

    @classmethod
    def fresh(cls) -> KdfParams:
        """Today's defaults with a new random 128-bit salt."""
        return cls(
            salt=os.urandom(16),
            memory_kib=DEFAULT_MEMORY_KIB,
            iterations=DEFAULT_ITERATIONS,
            lanes=DEFAULT_LANES,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept in the key file."""
        return {
            "name": "argon2id",
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "memory_kib": self.memory_kib,
            "iterations": self.iterations,
            "lanes": self.lanes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KdfParams:
        """Read the key file's JSON form; ``ValueError`` when it is not one we can use."""
        if data.get("name") != "argon2id":
            raise ValueError("unknown key derivation")
        params = cls(
            salt=base64.b64decode(data["salt"], validate=True),
            memory_kib=int(data["memory_kib"]),
            iterations=int(data["iterations"]),
            lanes=int(data["lanes"]),
        )
        # Refuse parameters weaker than the floor: a key file edited to make guessing cheap.
        if params.memory_kib < 64 * 1024 or params.iterations < 3 or len(params.salt) < 16:
            raise ValueError("key derivation parameters below the minimum")
        return params


def new_master_key() -> bytes:
    """A fresh random 256-bit device master key."""
    return secrets.token_bytes(DMK_BYTES)


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFKC so the same passphrase typed through different keyboards or input methods matches
    # (the normalisation RFC 8265 §4.2 applies to passwords).
    return unicodedata.normalize("NFKC", passphrase).encode("utf-8")


def derive_passphrase_kek(passphrase: str, params: KdfParams) -> bytes:
    """Argon2id(passphrase) → 256-bit key-encryption key."""
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    kdf = Argon2id(
        salt=params.salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(_passphrase_bytes(passphrase))


def _hkdf(secret: bytes, *, info: bytes, salt: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def derive_recovery_kek(recovery: bytes, salt: bytes) -> bytes:
    """HKDF(recovery key) → key-encryption key (the recovery key is already 200 random bits)."""
    return _hkdf(recovery, info=b"fieldkit recovery kek", salt=salt)


def sqlcipher_key(dmk: bytes) -> bytes:
    """The raw 256-bit SQLCipher key: HKDF(DMK, "sqlcipher")."""
    return _hkdf(dmk, info=b"sqlcipher")


def audit_key(dmk: bytes) -> bytes:
    """The MAC key that anchors the audit log's hash chain."""
    return _hkdf(dmk, info=b"audit")


def keyfile_mac_key(dmk: bytes) -> bytes:
    """The MAC key that seals the whole key file once the DMK is known."""
    return _hkdf(dmk, info=b"keyfile")


@dataclass(frozen=True)
class SessionKeys:
    """The DMK-derived keys an open workspace uses; what the unlock cache holds (never the DMK,
    so a cached unlock can read and write the database but cannot re-wrap the master key)."""

    database: bytes
    audit: bytes
    keyfile_mac: bytes

    @classmethod
    def derive(cls, dmk: bytes) -> SessionKeys:
        """The session keys of a master key."""
        return cls(sqlcipher_key(dmk), audit_key(dmk), keyfile_mac_key(dmk))

    def pack(self) -> bytes:
        """96 bytes, for the kernel keyring."""
        return self.database + self.audit + self.keyfile_mac

    @classmethod
    def unpack(cls, data: bytes) -> SessionKeys:
        """Inverse of ``pack``; ``ValueError`` for anything but 96 bytes."""
        if len(data) != 96:
            raise ValueError("session keys are 96 bytes")
        return cls(data[:32], data[32:64], data[64:])


def mac(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256."""
    return hmac.new(key, data, hashlib.sha256).digest()


def wrap_key(kek: bytes, key: bytes, *, aad: bytes) -> bytes:
    """AES-256-GCM encrypt ``key`` under ``kek``; returns nonce ‖ ciphertext ‖ tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, key, aad)


def unwrap_key(kek: bytes, blob: bytes, *, aad: bytes) -> bytes:
    """Inverse of ``wrap_key``; ``UnwrapFailed`` when the tag does not verify."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(kek).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise UnwrapFailed from None


def new_recovery_key() -> tuple[bytes, str]:
    """A fresh recovery key: its bytes and the text shown once (8 groups of 5 base32 chars)."""
    raw = secrets.token_bytes(_RECOVERY_BYTES)
    return raw, format_recovery_key(raw)


def format_recovery_key(raw: bytes) -> str:
    """The printed form: ``ABCDE-FGHIJ-…`` (RFC 4648 base32, no padding)."""
    text = base64.b32encode(raw).decode("ascii")
    return "-".join(text[i : i + 5] for i in range(0, len(text), 5))


def parse_recovery_key(text: str) -> bytes:
    """Read a recovery key as typed: case, spaces and dashes do not matter; ``ValueError`` else."""
    cleaned = "".join(ch for ch in text.upper() if not ch.isspace() and ch != "-")
    # Base32 (RFC 4648) has no 0, 1 or 8: read them as the letters people mistake them for.
    cleaned = cleaned.translate(str.maketrans("018", "OIB"))
    if len(cleaned) != 40:
        raise ValueError("a recovery key has 40 letters and digits")
    try:
        return base64.b32decode(cleaned)
    except (ValueError, binascii.Error):
        raise ValueError("not a recovery key") from None
