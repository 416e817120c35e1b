"""The encrypted workspace: one folder holding ``keyfile.json`` and ``workspace.db`` (DESIGN §3).

The key file wraps the device master key (DMK); the database is SQLCipher, keyed with a raw key
derived from the DMK. ``create_workspace`` and ``open_workspace`` are the front door; a
``Workspace`` is a context manager over one database connection.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fieldkit.clock import HybridLogicalClock, utc_text
from fieldkit.crypto import keys
from fieldkit.errors import (
    StorageFull,
    WeakPassphrase,
    WorkspaceDamaged,
    WorkspaceError,
    WorkspaceExists,
    WorkspaceMissing,
    WorkspaceWiped,
)
from fieldkit.store import schema, unlock_cache
from fieldkit.store._db import Database
from fieldkit.store._files import atomic_write, fsync_dir, overwrite_and_delete, stale_temps
from fieldkit.store.attachments import Attachments
from fieldkit.store.audit import Audit
from fieldkit.store.bundles import Bundles
from fieldkit.store.cases import CaseIndex
from fieldkit.store.forms import Forms
from fieldkit.store.keyfile import KEYFILE_NAME, KeyFile
from fieldkit.store.passphrase import passphrase_problem
from fieldkit.store.records import Records
from fieldkit.store.statements import Held, Statements

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

__all__ = [
    "DATABASE_NAME",
    "Device",
    "State",
    "Workspace",
    "change_passphrase",
    "check_passphrase",
    "create_workspace",
    "lock_workspace",
    "open_from_cache",
    "open_workspace",
    "recover_workspace",
    "require_no_workspace",
    "wipe_workspace",
    "workspace_id",
]

DATABASE_NAME = "workspace.db"
WIPED_NAME = "WIPED"
_DB_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Device:
    """This device's identity: a random pseudonymous id, X25519 (receive) and Ed25519 (sign)."""

    id: str
    x25519: X25519PrivateKey
    ed25519: Ed25519PrivateKey

    @property
    def x25519_public(self) -> bytes:
        """The raw 32-byte X25519 public key."""
        from cryptography.hazmat.primitives import serialization as s

        return self.x25519.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)

    @property
    def ed25519_public(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        from cryptography.hazmat.primitives import serialization as s

        return self.ed25519.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)


class State:
    """``ws.state``: a small encrypted key–value table; values are JSON."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        row = self._db.one("SELECT value FROM state WHERE key = ?", (key,))
        return json.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (anything JSON can hold) under ``key``; durable on return."""
        encoded = json.dumps(value, sort_keys=True, separators=(",", ":"))
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, encoded),
            )

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM state WHERE key = ?", (key,))


class WorkspaceClock:
    """``ws.clock``: the device's hybrid logical clock, persisted so it never runs backwards."""

    _KEY = "hlc"

    def __init__(self, db: Database, state: State, node: str) -> None:
        self._db = db
        self._state = state
        self._node = node

    def tick(self) -> str:
        """A new HLC value for a local event (see ``fieldkit.clock``)."""
        with self._db.transaction():
            clock = HybridLogicalClock(self._node, last=self._state.get(self._KEY))
            value = clock.tick()
            self._state.set(self._KEY, value)
        return value

    def observe(self, remote: str) -> str:
        """Merge an HLC value received from elsewhere; returns the new local value."""
        with self._db.transaction():
            clock = HybridLogicalClock(self._node, last=self._state.get(self._KEY))
            value = clock.observe(remote)
            self._state.set(self._KEY, value)
        return value


class Workspace:
    """An open workspace: ``forms``, ``records``, ``attachments``, ``state``, ``audit``,
    ``device``, ``clock``, ``statements``, ``held``, ``bundles`` and ``cases``."""

    def __init__(
        self, home: Path, keyfile: KeyFile, session: keys.SessionKeys, db: Database
    ) -> None:
        self.home = home
        self.keyfile = keyfile
        self._session = session
        self._db = db
        row = db.one("SELECT device_id FROM device WHERE one = 1")
        if row is None:
            raise WorkspaceDamaged(f"database {db.path} is damaged")
        self.device_id: str = row[0]
        self._device: Device | None = None
        self.state = State(db)
        self.audit = Audit(db, key=session.audit, device=self.device_id)
        self.forms = Forms(db, self.audit)
        self.records = Records(self, db)
        self.attachments = Attachments(db, device=self.device_id)
        self.statements = Statements(db)
        self.held = Held(db)
        self.bundles = Bundles(db)
        self.cases = CaseIndex(db)
        self.clock = WorkspaceClock(db, self.state, self.device_id)

    @property
    def id(self) -> str:
        """The workspace's random id (from the key file; names its unlock-cache entry)."""
        return self.keyfile.workspace_id

    @property
    def device(self) -> Device:
        """This device's keys, loaded on first use."""
        if self._device is None:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

            row = self._db.one("SELECT device_id, x25519, ed25519 FROM device WHERE one = 1")
            if row is None:
                raise WorkspaceDamaged(f"database {self._db.path} is damaged")
            self._device = Device(
                row[0],
                X25519PrivateKey.from_private_bytes(bytes(row[1])),
                Ed25519PrivateKey.from_private_bytes(bytes(row[2])),
            )
        return self._device

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Several changes (state, forms, records) committed together, durably, or not at all."""
        with self._db.transaction():
            yield

    def check(self) -> None:
        """Check every page's HMAC and the b-trees; ``WorkspaceDamaged`` on the first fault."""
        problems = self._db.all("PRAGMA cipher_integrity_check")
        result = self._db.all("PRAGMA integrity_check")
        if problems or [r[0] for r in result] != ["ok"]:
            raise WorkspaceDamaged(f"database {self._db.path} is damaged")

    def remember_unlock(self, *, timeout_seconds: int) -> bool:
        """Cache the key in the kernel keyring for ``timeout_seconds`` of idleness (if possible)."""
        return unlock_cache.remember(self.id, self._session.pack(), timeout_seconds=timeout_seconds)

    def close(self) -> None:
        """Release the database."""
        self._db.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- the front door --------------------------------------------------------------------------


def _paths(home: Path) -> tuple[Path, Path, Path]:
    return home / KEYFILE_NAME, home / DATABASE_NAME, home / WIPED_NAME


def _read_keyfile(home: Path) -> KeyFile:
    keyfile_path, db_path, wiped = _paths(home)
    if wiped.exists():
        raise WorkspaceWiped(f"the workspace at {home} was wiped; its data cannot be recovered")
    if not keyfile_path.exists():
        if db_path.exists():
            raise WorkspaceDamaged(f"key file {keyfile_path} is missing")
        raise WorkspaceMissing(f"no workspace at {home}: run `fieldkit init` first")
    if not db_path.is_file():
        raise WorkspaceDamaged(f"database {db_path} is missing")
    return KeyFile.read(keyfile_path)


def _open(home: Path, keyfile: KeyFile, session: keys.SessionKeys) -> Workspace:
    db = Database(home / DATABASE_NAME, session.database, create=False)
    try:
        schema.migrate(db)
        return Workspace(home, keyfile, session, db)
    except BaseException:
        db.close()
        raise


def workspace_id(home: Path) -> str:
    """The id of the workspace at ``home`` (reads only the key file)."""
    return _read_keyfile(home).workspace_id


def open_workspace(home: Path, *, passphrase: str) -> Workspace:
    """Unlock and open the workspace; ``WrongPassphrase`` changes nothing on disk."""
    keyfile = _read_keyfile(home)
    dmk = keyfile.unlock_with_passphrase(passphrase)
    ws = _open(home, keyfile, keys.SessionKeys.derive(dmk))
    if keyfile.kdf_outdated():
        # Made by an older fieldkit with cheaper Argon2id parameters: re-wrap under today's
        # (the parameters live in the key file for this).
        # Any write failure (full or read-only disk) just means "next time".
        try:
            keyfile.rewrap_passphrase(dmk, passphrase)
            ws.audit.append("kdf_upgrade")
        except WorkspaceError:
            pass
        except BaseException:
            ws.close()
            raise
    return ws


def check_passphrase(home: Path, *, passphrase: str) -> None:
    """``WrongPassphrase`` unless ``passphrase`` unlocks the key file (opens nothing else)."""
    _read_keyfile(home).unlock_with_passphrase(passphrase)


def open_from_cache(home: Path, *, timeout_seconds: int) -> Workspace | None:
    """Open with the key cached in the kernel keyring, or None when nothing usable is cached."""
    keyfile = _read_keyfile(home)
    packed = unlock_cache.recall(keyfile.workspace_id, timeout_seconds=timeout_seconds, size=96)
    if packed is None:
        return None
    session = keys.SessionKeys.unpack(packed)
    if not keyfile.matches(session.keyfile_mac):
        unlock_cache.forget(keyfile.workspace_id)
        return None
    return _open(home, keyfile, session)


def lock_workspace(home: Path) -> bool:
    """Drop the cached unlock of this workspace; True when one was cached."""
    return unlock_cache.forget(workspace_id(home))


def require_no_workspace(home: Path) -> None:
    """``WorkspaceExists`` when ``home`` already holds a workspace (checked before asking)."""
    keyfile_path, db_path, _ = _paths(home)
    if keyfile_path.exists() or db_path.exists():
        raise WorkspaceExists(f"a workspace already exists at {home}")


def create_workspace(home: Path, *, passphrase: str) -> tuple[Workspace, str]:
    """Make a new workspace at ``home``; returns it and the recovery key (to show once)."""
    problem = passphrase_problem(passphrase)
    if problem:
        raise WeakPassphrase(problem)
    require_no_workspace(home)
    keyfile_path, db_path, wiped = _paths(home)
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StorageFull(f"the disk is full: no workspace was created at {home}") from None
        raise WorkspaceError(f"cannot create {home}: {exc.strerror or exc}") from None
    # Private to its owner even when the folder already existed (other users on a shared
    # laptop must not even list it); the files below are made 0600 as well.
    with contextlib.suppress(OSError):
        home.chmod(0o700)
    if wiped.exists():
        _remove_database_files(db_path)
    dmk = keys.new_master_key()
    recovery_raw, recovery_text = keys.new_recovery_key()
    # Build the database under a temporary name and move it into place before the key file is
    # written: the key file is the commit point, so a failure at any step leaves no workspace.
    temp_db = home / f".{DATABASE_NAME}.{secrets.token_hex(4)}.init"
    try:
        _build_database(temp_db, dmk)
        os.replace(temp_db, db_path)
        fsync_dir(home)
        keyfile = KeyFile.create(
            keyfile_path,
            dmk=dmk,
            passphrase=passphrase,
            recovery=recovery_raw,
            created_at=utc_text(),
        )
        with contextlib.suppress(FileNotFoundError):
            wiped.unlink()
    except BaseException as exc:
        _remove_database_files(temp_db)
        if not keyfile_path.exists():
            _remove_database_files(db_path)
        if isinstance(exc, StorageFull):
            raise StorageFull(f"the disk is full: no workspace was created at {home}") from None
        raise
    return _open(home, keyfile, keys.SessionKeys.derive(dmk)), recovery_text


def _build_database(path: Path, dmk: bytes) -> None:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    raw = (s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
    x25519 = X25519PrivateKey.generate().private_bytes(*raw)
    ed25519 = Ed25519PrivateKey.generate().private_bytes(*raw)
    # A random pseudonym: nothing about the person or the laptop (DESIGN §3, minimisation).
    device_id = secrets.token_hex(8)
    # Create the file ourselves, 0600: SQLite would follow the umask (often 0644), and its
    # -wal and -shm files copy the main file's permissions.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    db = Database(path, keys.sqlcipher_key(dmk), create=True)
    try:
        schema.migrate(db)
        with db.transaction():
            db.execute(
                "INSERT INTO device (one, device_id, x25519, ed25519, created_at) "
                "VALUES (1, ?, ?, ?, ?)",
                (device_id, x25519, ed25519, utc_text()),
            )
            Audit(db, key=keys.audit_key(dmk), device=device_id).append("init")
    finally:
        db.close()


def change_passphrase(home: Path, *, old: str, new: str) -> None:
    """Re-wrap the DMK under a new passphrase (O(1): nothing is re-encrypted)."""
    problem = passphrase_problem(new)
    if problem:
        raise WeakPassphrase(problem)
    keyfile = _read_keyfile(home)
    dmk = keyfile.unlock_with_passphrase(old)
    with _open(home, keyfile, keys.SessionKeys.derive(dmk)) as ws:
        keyfile.rewrap_passphrase(dmk, new)
        ws.audit.append("passphrase_change")


def recover_workspace(home: Path, *, recovery_key: str, new_passphrase: str) -> None:
    """Set a new passphrase using the recovery key printed at ``init``."""
    from fieldkit.errors import WrongPassphrase

    problem = passphrase_problem(new_passphrase)
    if problem:
        raise WeakPassphrase(problem)
    try:
        raw = keys.parse_recovery_key(recovery_key)
    except ValueError:
        raise WrongPassphrase(
            "that is not a recovery key (8 groups of 5 letters and digits)"
        ) from None
    keyfile = _read_keyfile(home)
    dmk = keyfile.unlock_with_recovery(raw)
    with _open(home, keyfile, keys.SessionKeys.derive(dmk)) as ws:
        keyfile.rewrap_passphrase(dmk, new_passphrase)
        ws.audit.append("recover")
    unlock_cache.forget(keyfile.workspace_id)


def wipe_workspace(home: Path) -> None:
    """Destroy the key material: afterwards the workspace's data cannot be recovered by anyone."""
    keyfile_path, db_path, wiped = _paths(home)
    if not keyfile_path.exists() and not db_path.exists():
        if wiped.exists():
            return
        raise WorkspaceMissing(f"no workspace at {home}")
    # Forget the cached key first, from the key file's id even when the file is damaged.
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        unlock_cache.forget(str(json.loads(keyfile_path.read_text())["workspace_id"]))
    # The key file is what makes the data readable: destroy it (and any copy a killed write
    # left behind) before anything else.
    overwrite_and_delete(keyfile_path)
    for stale in stale_temps(keyfile_path):
        overwrite_and_delete(stale)
    _remove_database_files(db_path)
    # The marker only lets later commands say plainly what happened; if the disk refuses it,
    # the data is gone all the same.
    with contextlib.suppress(WorkspaceError):
        atomic_write(
            wiped,
            f"The fieldkit workspace here was wiped at {utc_text()}. Its key was destroyed; "
            "the data it held cannot be recovered.\n".encode(),
        )


def _remove_database_files(db_path: Path) -> None:
    for suffix in ("", *_DB_SIDE_FILES):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db_path}{suffix}").unlink()
