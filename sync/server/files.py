"""The server's data folder is private: made 0700 with its files 0600, and checked at start.

The folder holds the SQLite database (device public keys, token hashes, sealed records, who
enrolled when): no answer text, but nothing another local user should read either. The
database file is created 0600 before SQLite opens it, and SQLite gives its -wal and -shm files
the database file's own mode, so every file starts private whatever the umask. A folder or a
file loosened later (a restore, a copy, a chmod) is named in a warning each time the server
starts; the server does not change modes it did not set.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["loose_permissions", "prepare_data_dir"]

_FOLDER_MODE = 0o700
_FILE_MODE = 0o600


def prepare_data_dir(data_dir: Path, *, sqlite_file: Path | None = None) -> None:
    """Create the data folder (0700) and the SQLite file (0600) when they do not exist yet."""
    if not data_dir.exists():
        data_dir.mkdir(parents=True, exist_ok=True, mode=_FOLDER_MODE)
        os.chmod(data_dir, _FOLDER_MODE)  # mkdir's mode is masked by the umask
    if sqlite_file is not None and not sqlite_file.exists():
        fd = os.open(sqlite_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        os.close(fd)
        os.chmod(sqlite_file, _FILE_MODE)


def loose_permissions(data_dir: Path) -> list[str]:
    """One warning per folder or file that others than the owner may read, write or enter."""
    problems: list[str] = []
    try:
        folder = data_dir.stat()
    except OSError:
        return problems  # nothing kept there (e.g. PostgreSQL without a data folder)
    if folder.st_mode & 0o077:
        problems.append(
            f"the server's data folder {data_dir} is open to other users "
            f"(mode {stat.S_IMODE(folder.st_mode):04o}); run: chmod 700 {data_dir}"
        )
    try:
        entries = sorted(data_dir.iterdir())
    except OSError:
        return problems
    for entry in entries:
        try:
            info = entry.lstat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
            problems.append(
                f"the server's file {entry} is readable by other users "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {entry}"
            )
    return problems
