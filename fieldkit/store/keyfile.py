"""The key file beside the database: the DMK wrapped by the passphrase and by the recovery key.

    {"format": "fieldkit-keyfile", "version": 1, "workspace_id": …, "created_at": …,
     "wraps": {"passphrase": {"kdf": {argon2id params + salt}, "wrapped": b64},
               "recovery":   {"salt": b64, "wrapped": b64}},
     "mac": hex, "checksum": hex}

Two integrity checks with two jobs:
- ``checksum`` (SHA-256 of everything else) tells damage (a flipped bit, a truncated copy)
  apart from a wrong passphrase *before* any key is known: a wrong passphrase must never be
  reported as damage, nor damage as a wrong passphrase.
- ``mac`` (HMAC with a DMK-derived key) proves, once the DMK is open, that nobody swapped a
  wrap or lowered the KDF parameters. Each wrap also binds its own parameters as AES-GCM
  associated data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldkit.crypto import keys
from fieldkit.errors import WorkspaceDamaged, WrongPassphrase
from fieldkit.store._files import atomic_write

__all__ = ["KEYFILE_NAME", "KeyFile"]

KEYFILE_NAME = "keyfile.json"
_FORMAT = "fieldkit-keyfile"
_VERSION = 1


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class KeyFile:
    """A parsed key file: ``unlock_*`` open the DMK, ``rewrap_passphrase`` re-wraps it."""

    path: Path
    workspace_id: str
    created_at: str
    wraps: dict[str, dict[str, Any]]
    mac: str

    # -- making and reading ------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: Path, *, dmk: bytes, passphrase: str, recovery: bytes, created_at: str
    ) -> KeyFile:
        """Make the key file for a new workspace and write it durably."""
        keyfile = cls(path, secrets.token_hex(16), created_at, {}, "")
        keyfile.wraps["passphrase"] = keyfile._passphrase_wrap(dmk, passphrase)
        salt = secrets.token_bytes(16)
        kek = keys.derive_recovery_kek(recovery, salt)
        keyfile.wraps["recovery"] = {
            "salt": _b64(salt),
            "wrapped": _b64(keys.wrap_key(kek, dmk, aad=keyfile._aad("recovery", _b64(salt)))),
        }
        keyfile._seal_and_write(dmk)
        return keyfile

    @classmethod
    def read(cls, path: Path) -> KeyFile:
        """Read and check the key file; ``WorkspaceDamaged`` naming it when it fails the check."""
        damaged = WorkspaceDamaged(f"key file {path} is damaged")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise WorkspaceDamaged(
                f"key file {path} cannot be read: {exc.strerror or exc.__class__.__name__}"
            ) from None
        try:
            data = json.loads(raw.decode("utf-8"))
            checksum = data.pop("checksum")
            if not isinstance(checksum, str) or not hmac.compare_digest(
                checksum, hashlib.sha256(_canonical(data)).hexdigest()
            ):
                raise damaged
            if data.get("format") != _FORMAT:
                raise damaged
            if data.get("version") != _VERSION:
                from fieldkit.errors import MigrationError

                raise MigrationError(
                    f"key file {path} is version {data.get('version')}; "
                    "this fieldkit reads version 1: upgrade fieldkit"
                )
            keyfile = cls(
                path,
                str(data["workspace_id"]),
                str(data["created_at"]),
                dict(data["wraps"]),
                str(data["mac"]),
            )
            keys.KdfParams.from_json(keyfile.wraps["passphrase"]["kdf"])
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise damaged from None
        return keyfile

    # -- opening -----------------------------------------------------------------------------

    def unlock_with_passphrase(self, passphrase: str) -> bytes:
        """The DMK, or ``WrongPassphrase``."""
        wrap = self.wraps["passphrase"]
        params = keys.KdfParams.from_json(wrap["kdf"])
        kek = keys.derive_passphrase_kek(passphrase, params)
        try:
            dmk = keys.unwrap_key(
                kek, base64.b64decode(wrap["wrapped"]), aad=self._aad("passphrase", wrap["kdf"])
            )
        except keys.UnwrapFailed:
            raise WrongPassphrase() from None
        self._require_mac(dmk)
        return dmk

    def unlock_with_recovery(self, recovery: bytes) -> bytes:
        """The DMK, or ``WrongPassphrase`` ("wrong recovery key")."""
        wrap = self.wraps["recovery"]
        kek = keys.derive_recovery_kek(recovery, base64.b64decode(wrap["salt"]))
        try:
            dmk = keys.unwrap_key(
                kek, base64.b64decode(wrap["wrapped"]), aad=self._aad("recovery", wrap["salt"])
            )
        except keys.UnwrapFailed:
            raise WrongPassphrase("wrong recovery key") from None
        self._require_mac(dmk)
        return dmk

    def kdf_outdated(self) -> bool:
        """Whether the passphrase wrap uses less Argon2id memory or time than today's defaults."""
        stored = keys.KdfParams.from_json(self.wraps["passphrase"]["kdf"])
        today = keys.KdfParams.fresh()
        return stored.memory_kib < today.memory_kib or stored.iterations < today.iterations

    def matches(self, mac_key: bytes) -> bool:
        """Whether ``mac_key`` (``SessionKeys.keyfile_mac``) is this workspace's: checks the MAC."""
        return hmac.compare_digest(self._compute_mac(mac_key), self.mac)

    def rewrap_passphrase(self, dmk: bytes, new_passphrase: str) -> None:
        """Wrap the DMK under a new passphrase (fresh salt, today's KDF defaults); atomic."""
        old_wraps, old_mac = self.wraps, self.mac
        self.wraps = {**old_wraps, "passphrase": self._passphrase_wrap(dmk, new_passphrase)}
        try:
            self._seal_and_write(dmk)
        except BaseException:
            self.wraps, self.mac = old_wraps, old_mac
            raise

    # -- inside ------------------------------------------------------------------------------

    def _passphrase_wrap(self, dmk: bytes, passphrase: str) -> dict[str, Any]:
        params = keys.KdfParams.fresh()
        kek = keys.derive_passphrase_kek(passphrase, params)
        kdf = params.to_json()
        return {
            "kdf": kdf,
            "wrapped": _b64(keys.wrap_key(kek, dmk, aad=self._aad("passphrase", kdf))),
        }

    def _aad(self, name: str, params: Any) -> bytes:
        return _canonical(
            {
                "format": _FORMAT,
                "version": _VERSION,
                "workspace_id": self.workspace_id,
                "wrap": name,
                "params": params,
            }
        )

    def _body(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "workspace_id": self.workspace_id,
            "created_at": self.created_at,
            "wraps": self.wraps,
        }

    def _compute_mac(self, mac_key: bytes) -> str:
        return keys.mac(mac_key, _canonical(self._body())).hex()

    def _require_mac(self, dmk: bytes) -> None:
        if not self.matches(keys.keyfile_mac_key(dmk)):
            raise WorkspaceDamaged(f"key file {self.path} is damaged")

    def _seal_and_write(self, dmk: bytes) -> None:
        self.mac = self._compute_mac(keys.keyfile_mac_key(dmk))
        data = {**self._body(), "mac": self.mac}
        data["checksum"] = hashlib.sha256(_canonical(data)).hexdigest()
        atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True).encode() + b"\n")
