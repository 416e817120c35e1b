"""Durable file writes: temp file, fsync, rename, fsync of the folder (rename is atomic)."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from fieldkit.errors import StorageFull, WorkspaceError

__all__ = ["atomic_write", "fsync_dir", "overwrite_and_delete", "stale_temps"]


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable (its entry lives in the folder's inode)."""
    if os.name == "nt":
        # Windows cannot open a folder for fsync; NTFS journals the rename itself.
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stale_temps(path: Path) -> list[Path]:
    """Temp files a killed ``atomic_write`` of ``path`` may have left behind."""
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, never half."""
    # A write killed half-way leaves its temp file; for a key file that is key material, so
    # it goes before the next write.
    for stale in stale_temps(path):
        overwrite_and_delete(stale)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise _storage_error(exc, path) from None


def overwrite_and_delete(path: Path) -> None:
    """Overwrite a small file with random bytes, make that durable, then delete it.

    The overwrite is best effort (flash storage may keep old blocks anyway); the delete is not.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, secrets.token_bytes(max(size, 1)))
            os.fsync(fd)
        finally:
            os.close(fd)
    try:
        path.unlink()
        fsync_dir(path.parent)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _storage_error(exc, path) from None


def _storage_error(exc: OSError, path: Path) -> WorkspaceError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"the disk is full: {path.name} was not changed")
    return WorkspaceError(f"cannot write {path}: {exc.strerror or exc.__class__.__name__}")
