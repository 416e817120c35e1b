"""The bundle file: typed sections of wire items behind a signed trailer (DESIGN §6b).

Layout (all lengths unsigned big-endian)::

    magic      b"FKBUNDLE" + format byte (1)                       9 bytes
    header     u32 length + canonical JSON (bundle id, kind, project, signer, time)
    body       one zlib stream of frames:  u8 kind length, kind (ASCII), u32 length, payload
               … ended by a frame of kind length 0
    trailer    canonical JSON {"sha256", "items", "signature", "project_signature"}
    tail       u32 trailer length + b"FKEND\\n"

Each payload is the very bytes the wire carries for that item (an envelope's canonical JSON as
pushed, a statement with its definition as pulled), so a bundle and a sync deliver the same
things and import is idempotent with sync. Kinds are names, not numbers: a new kind of item
(attachments, case events) is one more name, and a reader refuses a bundle with a kind it does
not know rather than apply half of it.

The trailer is read first: ``sha256`` covers every byte before it, and the signature covers
``_DOMAIN + sha256``. Nothing is decompressed or parsed until the signature holds, so a
truncated or altered file is refused before any of it is read as data.

Writing goes to a hidden temporary name in the target folder, is flushed to disk, and is
renamed only when complete: a stick that fills up leaves no file named as a bundle.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fieldkit.errors import CryptoError, StorageFull, UsageError
from sync.protocol import canonical_json

__all__ = [
    "MAX_ITEM_BYTES",
    "BundleHeader",
    "BundleReader",
    "BundleWriter",
    "signed_message",
]

_MAGIC = b"FKBUNDLE\x01"
_TAIL = b"FKEND\n"
_DOMAIN = b"fieldkit/v1/bundle\n"
MAX_ITEM_BYTES = 64 * 1024 * 1024  # one item (an envelope's ciphertext is at most 8 MiB base64)
_MAX_HEADER = 64 * 1024
_MAX_TRAILER = 64 * 1024
_CHUNK = 1024 * 1024
SUFFIX = ".fkb"


def signed_message(digest: bytes) -> bytes:
    """What a bundle's signatures cover: a domain tag and the SHA-256 of all before the trailer."""
    return _DOMAIN + digest


@dataclass(frozen=True)
class BundleHeader:
    """Who made a bundle, for which project, and what kind it is (nothing about its content)."""

    bundle_id: str
    kind: str  # "records" (a device's) or "project" (a coordinator's, signed by the project)
    project_id: str
    signer: str  # device id whose key signed it
    created_at: str

    def as_json(self) -> dict[str, str]:
        """The header as written."""
        return {
            "format": "1",
            "bundle_id": self.bundle_id,
            "kind": self.kind,
            "project_id": self.project_id,
            "signer": self.signer,
            "created_at": self.created_at,
        }


_FIELDS = ("bundle_id", "kind", "project_id", "signer", "created_at")


def _damaged(why: str = "it is damaged or was changed after it was made") -> CryptoError:
    return CryptoError(f"this bundle cannot be used: {why}; nothing was imported")


class BundleWriter:
    """Writes one bundle: ``add(kind, payload)`` for each item, then ``finish(sign)``."""

    def __init__(self, target: Path, header: BundleHeader) -> None:
        self._target = target
        self._tmp = target.parent / f".{target.name}.{os.urandom(4).hex()}.tmp"
        self._hash = hashlib.sha256()
        self._items = 0
        self._zip = zlib.compressobj(6)
        try:
            self._file: IO[bytes] = self._tmp.open("xb")
        except OSError as exc:
            raise _write_error(exc, target) from None
        head = canonical_json(header.as_json())
        self._raw(_MAGIC + struct.pack(">I", len(head)) + head)

    def _raw(self, data: bytes) -> None:
        self._hash.update(data)
        try:
            self._file.write(data)
        except OSError as exc:
            self.abort()
            raise _write_error(exc, self._target) from None

    def add(self, kind: str, payload: bytes) -> None:
        """One item of ``kind`` (its wire bytes)."""
        name = kind.encode("ascii")
        if not 0 < len(name) < 256 or len(payload) > MAX_ITEM_BYTES:
            raise UsageError("an item too large for a bundle")
        frame = bytes([len(name)]) + name + struct.pack(">I", len(payload)) + payload
        self._raw(self._zip.compress(frame))
        self._items += 1

    @property
    def items(self) -> int:
        """How many items were added."""
        return self._items

    def finish(self, sign: Callable[[bytes], dict[str, str]]) -> Path:
        """End the body, sign, flush to disk and rename into place; returns the bundle's path."""
        self._raw(self._zip.compress(b"\x00") + self._zip.flush())
        digest = self._hash.digest()
        trailer = canonical_json(
            {"sha256": digest.hex(), "items": self._items, **sign(signed_message(digest))}
        )
        try:
            self._file.write(trailer + struct.pack(">I", len(trailer)) + _TAIL)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._tmp, self._target)
        except OSError as exc:
            self.abort()
            raise _write_error(exc, self._target) from None
        with contextlib.suppress(OSError):
            # The rename itself must survive a pulled stick: flush the folder too.
            fd = os.open(self._target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return self._target

    def abort(self) -> None:
        """Leave nothing behind."""
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


def _write_error(exc: OSError, target: Path) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return StorageFull(
            f"no room left to write the bundle in {target.parent}: free some space or use "
            "another stick; no bundle was written"
        )
    return UsageError(
        f"cannot write the bundle in {target.parent}: {exc.strerror or exc.__class__.__name__}"
    )


class BundleReader:
    """Reads a bundle: the trailer and signatures first (``check``), then the items."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file: IO[bytes] = path.open("rb")
            size = os.fstat(self._file.fileno()).st_size
        except OSError as exc:
            raise UsageError(
                f"cannot read {path}: {exc.strerror or exc.__class__.__name__}"
            ) from None
        try:
            self.header, self._body_start = self._read_header()
            self._body_end, self.trailer = self._read_trailer(size)
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_header(self) -> tuple[BundleHeader, int]:
        start = self._file.read(len(_MAGIC) + 4)
        if start[: len(_MAGIC)] != _MAGIC:
            if start[:8] == _MAGIC[:8]:
                raise UsageError("this bundle was made by a newer fieldkit: upgrade fieldkit")
            raise UsageError(f"{self.path.name} is not a fieldkit bundle")
        if len(start) < len(_MAGIC) + 4:
            raise _damaged("it is cut short (an incomplete copy?)")
        (length,) = struct.unpack(">I", start[len(_MAGIC) :])
        if length > _MAX_HEADER:
            raise _damaged()
        raw = self._file.read(length)
        try:
            data = json.loads(raw)
            header = BundleHeader(**{k: str(data[k]) for k in _FIELDS})
        except (ValueError, KeyError, TypeError, RecursionError):
            raise _damaged("it is cut short (an incomplete copy?)") from None
        return header, len(start) + length

    def _read_trailer(self, size: int) -> tuple[int, dict[str, Any]]:
        tail = len(_TAIL) + 4
        if size < self._body_start + tail:
            raise _damaged("it is cut short (an incomplete copy?)")
        self._file.seek(size - tail)
        end = self._file.read(tail)
        if end[4:] != _TAIL:
            raise _damaged("it is cut short (an incomplete copy?)")
        (length,) = struct.unpack(">I", end[:4])
        body_end = size - tail - length
        if length > _MAX_TRAILER or body_end < self._body_start:
            raise _damaged()
        self._file.seek(body_end)
        try:
            trailer = json.loads(self._file.read(length))
        except (ValueError, RecursionError):
            raise _damaged() from None
        if not isinstance(trailer, dict):
            raise _damaged()
        return body_end, trailer

    def digest(self) -> bytes:
        """SHA-256 of every byte before the trailer; ``_damaged`` when it is not the trailer's."""
        sha = hashlib.sha256()
        self._file.seek(0)
        left = self._body_end
        while left:
            chunk = self._file.read(min(_CHUNK, left))
            if not chunk:
                raise _damaged("it is cut short (an incomplete copy?)")
            sha.update(chunk)
            left -= len(chunk)
        if sha.hexdigest() != self.trailer.get("sha256"):
            raise _damaged()
        return sha.digest()

    def items(self) -> Iterator[tuple[str, bytes]]:
        """(kind, payload) of every item, in order; call only after the signature held."""
        self._file.seek(self._body_start)
        inflater = zlib.decompressobj()
        buffer, pos = b"", 0
        left = self._body_end - self._body_start
        count = 0
        while True:
            frame = _next_frame(buffer, pos)
            if frame is None:
                if left <= 0 or inflater.eof:
                    raise _damaged()
                chunk = self._file.read(min(_CHUNK, left))
                left -= len(chunk)
                try:
                    buffer = buffer[pos:] + inflater.decompress(chunk)
                except zlib.error:
                    raise _damaged() from None
                pos = 0
                continue
            kind, payload, pos = frame
            if kind == "":
                break
            count += 1
            yield kind, payload
        if count != self.trailer.get("items"):
            raise _damaged()


def _next_frame(buffer: bytes, pos: int) -> tuple[str, bytes, int] | None:
    """(kind, payload, next position) of the frame at ``pos``, None if it is incomplete."""
    if pos >= len(buffer):
        return None
    n = buffer[pos]
    if n == 0:
        return "", b"", pos + 1
    if len(buffer) < pos + 5 + n:
        return None
    (length,) = struct.unpack_from(">I", buffer, pos + 1 + n)
    if length > MAX_ITEM_BYTES:
        raise _damaged()
    end = pos + 5 + n + length
    if len(buffer) < end:
        return None
    try:
        kind = buffer[pos + 1 : pos + 1 + n].decode("ascii")
    except UnicodeDecodeError:
        raise _damaged() from None
    return kind, buffer[pos + 5 + n : end], end
