"""Sealed attachments: a photo, a recording or a file as one self-contained byte stream.

DESIGN §6a. An attachment is sealed like a record, but in chunks, so a 200 MB video is never
held in memory on the laptop, the server or the coordinator's side::

    stream    = MAGIC(4) || len(header)(4, big-endian) || header || chunk_0 .. chunk_{n-1} || sig
    header    = canonical JSON {v, attachment_id, project_id, device_id, size, chunk_size,
                                chunks, nonce_prefix, recipients: [{key_id, wrapped_key}]}
    chunk_i   = AES-256-GCM(data_key, nonce_prefix(8) || i(4), plaintext_i,
                            aad = SHA-256(header) || i(4) || last(1))
    sig       = Ed25519(device key, "fieldkit/v1/attachment" || SHA-256(header)
                                    || SHA-256(chunk_0 || .. || chunk_{n-1}))

Every chunk is authenticated with its position and whether it is the last (the STREAM
construction: chunks cannot be reordered, dropped or the stream cut short unnoticed); the
signature at the end proves which device sealed it, since the data key is wrapped to public
keys anyone could wrap to. The record that names the attachment carries the SHA-256 of the
whole stream, so a breached server can neither swap one attachment for another nor forge one.

Sealing is deterministic once the data key, nonce prefix and header are chosen: the laptop
keeps those three and regenerates the same bytes on every resend (an upload resumed after a
cut continues the very stream it began). This module is pure: keys and bytes in, bytes out.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fieldkit.crypto.hpke import key_id, unwrap, wrap
from fieldkit.errors import CryptoError
from sync.protocol import b64decode, b64encode, canonical_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

__all__ = [
    "ATTACHMENT_VERSION",
    "CHUNK_SIZE",
    "MAGIC",
    "AttachmentHeader",
    "AttachmentSealer",
    "new_sealer",
    "open_attachment",
    "read_header",
    "sealed_size",
    "sealer_for",
]

ATTACHMENT_VERSION = 1
MAGIC = b"FKA1"
CHUNK_SIZE = 1024 * 1024
_TAG = 16
_SIGNATURE = 64
_NONCE_PREFIX = 8
_MAX_HEADER = 64 * 1024
_MAX_CHUNK = 16 * 1024 * 1024
_SIGNED_LABEL = b"fieldkit/v1/attachment"
_INFO_PREFIX = b"fieldkit/v1/attachment-key/"


def _info(kid: str) -> bytes:
    # Its own HPKE info: a wrapped attachment key can never be replayed as a record's key.
    return _INFO_PREFIX + kid.encode("ascii")


@dataclass(frozen=True)
class AttachmentHeader:
    """The clear header of a sealed attachment (what the server may route by)."""

    raw: bytes  # the canonical JSON bytes, as sealed
    attachment_id: str
    project_id: str
    device_id: str
    size: int  # plaintext bytes
    chunk_size: int
    chunks: int
    nonce_prefix: bytes
    recipients: tuple[tuple[str, str], ...]  # (key id, wrapped key as base64)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the header bytes (bound into every chunk and the signature)."""
        return hashlib.sha256(self.raw).digest()

    @property
    def prefix(self) -> bytes:
        """The stream's opening bytes: magic, header length, header."""
        return MAGIC + len(self.raw).to_bytes(4, "big") + self.raw

    @property
    def sealed_size(self) -> int:
        """Length of the whole sealed stream in bytes."""
        return len(self.prefix) + self.size + _TAG * self.chunks + _SIGNATURE

    def chunk_length(self, index: int) -> int:
        """Plaintext length of chunk ``index``."""
        if index < self.chunks - 1:
            return self.chunk_size
        return self.size - self.chunk_size * (self.chunks - 1)


def sealed_size(header: AttachmentHeader) -> int:
    """Length of the sealed stream a header announces."""
    return header.sealed_size


def _parse_header(raw: bytes) -> AttachmentHeader:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != ATTACHMENT_VERSION:
            raise ValueError("version")
        size, chunk_size, chunks = int(data["size"]), int(data["chunk_size"]), int(data["chunks"])
        recipients = tuple((str(r["key_id"]), str(r["wrapped_key"])) for r in data["recipients"])
        prefix = b64decode(str(data["nonce_prefix"]))
        header = AttachmentHeader(
            raw=raw,
            attachment_id=str(data["attachment_id"]),
            project_id=str(data["project_id"]),
            device_id=str(data["device_id"]),
            size=size,
            chunk_size=chunk_size,
            chunks=chunks,
            nonce_prefix=prefix,
            recipients=recipients,
        )
    except (ValueError, KeyError, TypeError):
        raise CryptoError("the attachment's header does not follow the protocol") from None
    if canonical_json(data) != raw:
        raise CryptoError("the attachment's header is not canonical")
    if (
        size < 1
        or not 1 <= chunk_size <= _MAX_CHUNK
        or chunks != -(-size // chunk_size)
        or len(prefix) != _NONCE_PREFIX
        or not recipients
    ):
        raise CryptoError("the attachment's header does not follow the protocol")
    return header


def read_header(stream: IO[bytes]) -> AttachmentHeader:
    """Read and parse the opening bytes of a sealed stream (nothing is checked but the form)."""
    opening = _read_exact(stream, 8)
    if opening[:4] != MAGIC:
        raise CryptoError("this is not a sealed fieldkit attachment")
    length = int.from_bytes(opening[4:], "big")
    if not 2 <= length <= _MAX_HEADER:
        raise CryptoError("the attachment's header does not follow the protocol")
    return _parse_header(_read_exact(stream, length))


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        piece = stream.read(n - len(out))
        if not piece:
            raise CryptoError("the attachment is cut short")
        out += piece
    return bytes(out)


class AttachmentSealer:
    """Regenerates the sealed stream from the plaintext chunks, byte for byte, every time."""

    def __init__(self, header: AttachmentHeader, data_key: bytes) -> None:
        self.header = header
        self._aead = AESGCM(data_key)
        self._digest = header.digest

    def chunk(self, index: int, plaintext: bytes) -> bytes:
        """The sealed bytes of chunk ``index`` (its plaintext must have the announced length)."""
        header = self.header
        if not 0 <= index < header.chunks or len(plaintext) != header.chunk_length(index):
            raise CryptoError("attachment chunk out of place")
        last = index == header.chunks - 1
        position = index.to_bytes(4, "big")
        aad = self._digest + position + (b"\x01" if last else b"\x00")
        return self._aead.encrypt(header.nonce_prefix + position, plaintext, aad)

    def signature(self, chunks: Iterable[bytes], *, signing_key: Ed25519PrivateKey) -> bytes:
        """Sign the header and every sealed chunk (pass them in order)."""
        body = hashlib.sha256()
        for sealed in chunks:
            body.update(sealed)
        return signing_key.sign(_SIGNED_LABEL + self._digest + body.digest())

    def stream(self, plaintext_chunks: Iterable[bytes], signature: bytes) -> Iterator[bytes]:
        """The whole sealed stream, piece by piece: prefix, chunks, signature."""
        yield self.header.prefix
        for index, plaintext in enumerate(plaintext_chunks):
            yield self.chunk(index, plaintext)
        yield signature


def new_sealer(
    *,
    attachment_id: str,
    project_id: str,
    device_id: str,
    size: int,
    recipients: Sequence[X25519PublicKey],
    chunk_size: int = CHUNK_SIZE,
) -> tuple[AttachmentSealer, bytes]:
    """A sealer with a fresh data key for every recipient; returns it and the data key
    (which the laptop keeps in its encrypted workspace to regenerate the stream)."""
    if size < 1:
        raise CryptoError("an empty attachment cannot be sealed")
    if not recipients:
        raise CryptoError("an attachment needs at least one recipient key")
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped: list[dict[str, str]] = []
    seen: set[str] = set()
    for public_key in recipients:
        kid = key_id(public_key)
        if kid not in seen:
            seen.add(kid)
            blob = wrap(data_key, public_key=public_key, info=_info(kid))
            wrapped.append({"key_id": kid, "wrapped_key": b64encode(blob)})
    data: dict[str, Any] = {
        "v": ATTACHMENT_VERSION,
        "attachment_id": attachment_id,
        "project_id": project_id,
        "device_id": device_id,
        "size": size,
        "chunk_size": chunk_size,
        "chunks": -(-size // chunk_size),
        "nonce_prefix": b64encode(os.urandom(_NONCE_PREFIX)),
        "recipients": wrapped,
    }
    return AttachmentSealer(_parse_header(canonical_json(data)), data_key), data_key


def sealer_for(header_raw: bytes, data_key: bytes) -> AttachmentSealer:
    """The sealer of a stream begun earlier (from its stored header bytes and data key)."""
    return AttachmentSealer(_parse_header(header_raw), data_key)


def open_attachment(
    stream: IO[bytes],
    *,
    private_keys: Mapping[str, X25519PrivateKey],
    verify_key: Ed25519PublicKey,
    expected_sha256: bytes | None = None,
    project_id: str | None = None,
    device_id: str | None = None,
    attachment_id: str | None = None,
) -> Iterator[bytes]:
    """Verify and decrypt a sealed stream, yielding plaintext chunks in order.

    The last item is yielded only after the signature (and ``expected_sha256``, the digest the
    record names) checked out: a caller must keep nothing until the iterator is exhausted. Any
    fault is a ``CryptoError``; nothing beyond one chunk is held in memory.
    """
    whole = hashlib.sha256()
    header = read_header(stream)
    whole.update(header.prefix)
    for expected, found, what in (
        (project_id, header.project_id, "project"),
        (device_id, header.device_id, "device"),
        (attachment_id, header.attachment_id, "attachment id"),
    ):
        if expected is not None and expected != found:
            raise CryptoError(f"the attachment names another {what} than its record")
    data_key = _unwrap(header, private_keys)
    aead = AESGCM(data_key)
    digest = header.digest
    body = hashlib.sha256()
    held: bytes | None = None
    for index in range(header.chunks):
        sealed = _read_exact(stream, header.chunk_length(index) + _TAG)
        whole.update(sealed)
        body.update(sealed)
        last = index == header.chunks - 1
        position = index.to_bytes(4, "big")
        try:
            plain = aead.decrypt(
                header.nonce_prefix + position,
                sealed,
                digest + position + (b"\x01" if last else b"\x00"),
            )
        except InvalidTag:
            raise CryptoError("the attachment does not decrypt (damaged or altered)") from None
        if held is not None:
            yield held
        held = plain
    signature = _read_exact(stream, _SIGNATURE)
    whole.update(signature)
    if stream.read(1):
        raise CryptoError("the attachment has bytes after its end")
    try:
        verify_key.verify(signature, _SIGNED_LABEL + digest + body.digest())
    except InvalidSignature:
        raise CryptoError("the attachment's signature does not verify") from None
    if expected_sha256 is not None and whole.digest() != expected_sha256:
        raise CryptoError("the attachment is not the one its record names")
    assert held is not None
    yield held


def _unwrap(header: AttachmentHeader, private_keys: Mapping[str, X25519PrivateKey]) -> bytes:
    for kid, wrapped in header.recipients:
        private = private_keys.get(kid)
        if private is None:
            continue
        try:
            return unwrap(b64decode(wrapped), private_key=private, info=_info(kid))
        except (ValueError, CryptoError):
            continue
    raise CryptoError("no key on this laptop opens the attachment")
