"""Read every page of a SQLCipher 4 file (and of its WAL) decrypted, free pages included.

A logical dump (``SELECT *``) shows only live rows; what an erasure must also clear is freed
space and old WAL frames. With the workspace's raw key (SQLCipher's raw-key mode uses it as
the AES-256 key directly) each page decrypts on its own: AES-256-CBC over the page but its
reserved tail, the IV at the start of that tail (SQLCipher 4: 16-byte IV + 64-byte HMAC).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAGE = 4096
RESERVE = 80
SALT = 16
WAL_HEADER = 32
FRAME_HEADER = 24


def _page(raw: bytes, key: bytes, *, first: bool) -> bytes:
    start = SALT if first else 0
    body = raw[start : PAGE - RESERVE]
    iv = raw[PAGE - RESERVE : PAGE - RESERVE + 16]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(body) + decryptor.finalize()


def database_pages(path: Path, key: bytes) -> bytes:
    """Every page of the main file, decrypted, concatenated."""
    data = path.read_bytes()
    out = []
    for n in range(len(data) // PAGE):
        out.append(_page(data[n * PAGE : (n + 1) * PAGE], key, first=n == 0))
    return b"".join(out)


def wal_pages(path: Path, key: bytes) -> bytes:
    """Every frame of a WAL file, decrypted, concatenated (empty when there is no WAL)."""
    if not path.exists():
        return b""
    data = path.read_bytes()
    out = []
    offset = WAL_HEADER
    while offset + FRAME_HEADER + PAGE <= len(data):
        number = int.from_bytes(data[offset : offset + 4], "big")
        raw = data[offset + FRAME_HEADER : offset + FRAME_HEADER + PAGE]
        out.append(_page(raw, key, first=number == 1))
        offset += FRAME_HEADER + PAGE
    return b"".join(out)


def plaintext_of(db_path: Path, key: bytes) -> bytes:
    """The decrypted pages of a database and of its WAL, plus the raw bytes of both (a
    plaintext leak would show there)."""
    wal = db_path.with_name(db_path.name + "-wal")
    raw = db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    return database_pages(db_path, key) + wal_pages(wal, key) + raw
