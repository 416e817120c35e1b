"""Helpers for workspace tests: a small form, raw database access, file fingerprints."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import sqlcipher3

from fieldkit.crypto import keys
from fieldkit.store import Workspace
from fieldkit.store.keyfile import KEYFILE_NAME, KeyFile
from fieldkit.store.workspace import DATABASE_NAME, _open

PASSPHRASE = "amber-kettle-orbit-71"
OTHER_PASSPHRASE = "violet harbour lantern 9"

FORM: dict[str, Any] = {
    "type": "survey",
    "name": "data",
    "title": "Household visit",
    "id_string": "household",
    "version": "2024010101",
    "children": [
        {"type": "text", "name": "site", "label": "Site"},
        {"type": "text", "name": "respondent", "label": "Name", "sensitive": "yes"},
        {
            "type": "repeat",
            "name": "member",
            "children": [
                {"type": "integer", "name": "age", "label": "Age"},
                {"type": "text", "name": "phone", "label": "Phone", "sensitive": "true"},
            ],
        },
    ],
}


_DMKS: dict[tuple[str, bytes, str], bytes] = {}


def master_key(home: Path, passphrase: str = PASSPHRASE) -> bytes:
    """The workspace's DMK, unwrapped once per key file (Argon2id is slow on shared machines)."""
    raw = (home / KEYFILE_NAME).read_bytes()
    cache_key = (str(home), raw, passphrase)
    if cache_key not in _DMKS:
        _DMKS[cache_key] = KeyFile.read(home / KEYFILE_NAME).unlock_with_passphrase(passphrase)
    return _DMKS[cache_key]


def reopen(home: Path) -> Workspace:
    """Open the workspace with its (cached) master key: for tests whose subject is not unlock."""
    return _open(home, KeyFile.read(home / KEYFILE_NAME), keys.SessionKeys.derive(master_key(home)))


def raw_connection(home: Path, passphrase: str = PASSPHRASE) -> sqlcipher3.Connection:
    """A plain sqlcipher3 connection to the workspace database (to tamper with it)."""
    dmk = master_key(home, passphrase)
    conn = sqlcipher3.connect(str(home / DATABASE_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{keys.sqlcipher_key(dmk).hex()}'\"")
    return conn


def fingerprint(folder: Path) -> dict[str, str]:
    """Name → SHA-256 of every file under ``folder`` (to prove nothing changed)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def flip_byte(path: Path, offset: int) -> None:
    """Invert one byte of a file in place."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
