"""A thin layer over one sqlcipher3 connection: keying, pragmas, transactions, error mapping.

Plain sqlcipher3 rather than SQLAlchemy: importing SQLAlchemy alone costs ~0.25 s on these
laptops, and capture must show its first question at once (DESIGN §8, STYLE 11). The whole
database, its WAL and its indexes are encrypted by SQLCipher 4 (AES-256, HMAC-SHA512 per page).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlcipher3

from fieldkit.errors import StorageFull, WorkspaceDamaged, WorkspaceError

__all__ = ["Database"]

Row = tuple[Any, ...]


class Database:
    """One keyed connection; ``transaction()`` nests, so a batch wraps many operations in one."""

    def __init__(self, path: Path, raw_key: bytes, *, create: bool) -> None:
        self.path = path
        self._depth = 0
        self._before_commit: list[Callable[[], None]] = []
        self._after_end: list[Callable[[], None]] = []
        # mode=rw: opening must never create a file (nothing on disk may change when a workspace
        # is missing or damaged); only init uses rwc.
        mode = "rwc" if create else "rw"
        try:
            self._conn = sqlcipher3.connect(
                f"file:{quote(str(path))}?mode={mode}",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlcipher3.Error as exc:
            raise self._translate(exc) from None
        try:
            # SQLCipher logs a failed page HMAC to stderr itself (WARN level by default): three
            # raw lines before our one-line WorkspaceDamaged. The error code says it all.
            self._conn.execute("PRAGMA cipher_log_level = NONE")
            # A raw key (x'…', 64 hex digits) skips SQLCipher's 256,000-round PBKDF2: the key is
            # already derived from the DMK by HKDF (fieldkit.crypto.keys.sqlcipher_key).
            self._conn.execute(f"PRAGMA key = \"x'{raw_key.hex()}'\"")
            # Reading the schema is the first read of page 1: with a sound file and the right
            # key it succeeds; a flipped byte fails SQLCipher's page HMAC here or later.
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA busy_timeout = 10000")
            # Zero freed content, so a discarded draft does not linger in free pages even for
            # someone who later learns the key.
            self._conn.execute("PRAGMA secure_delete = ON")
            # Sorts and temporary indices in memory, never in an unencrypted file in /tmp
            # (SQLCipher does not encrypt SQLite's temporary files).
            self._conn.execute("PRAGMA temp_store = MEMORY")
            if create:
                self._conn.execute("PRAGMA journal_mode = WAL")
            # FULL, not NORMAL: in WAL mode NORMAL skips the fsync of the WAL at each commit, so a
            # power cut could lose answers whose save had returned. Drafts are saved after every
            # answer and that save must be durable before it returns (DESIGN §5).
            self._conn.execute("PRAGMA synchronous = FULL")
        except sqlcipher3.Error as exc:
            self._conn.close()
            raise self._translate(exc) from None

    # -- reading -----------------------------------------------------------------------------

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query."""
        try:
            return list(self._conn.execute(sql, params).fetchall())
        except sqlcipher3.Error as exc:
            raise self._translate(exc) from None

    def iterate(self, sql: str, params: Sequence[Any] = (), *, size: int = 1000) -> Iterator[Row]:
        """The rows of a query, fetched ``size`` at a time (for logs too big to hold at once)."""
        try:
            cursor = self._conn.execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield from rows
        except sqlcipher3.Error as exc:
            raise self._translate(exc) from None

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a query, or None."""
        try:
            row = self._conn.execute(sql, params).fetchone()
        except sqlcipher3.Error as exc:
            raise self._translate(exc) from None
        return tuple(row) if row is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.one(sql, params)
        return row[0] if row else None

    # -- writing -----------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (inside ``transaction()``); returns the rows changed."""
        try:
            return int(self._conn.execute(sql, params).rowcount)
        except sqlcipher3.Error as exc:
            raise self._translate(exc) from None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many rows (inside ``transaction()``)."""
        try:
            self._conn.executemany(sql, rows)
        except sqlcipher3.Error as exc:
            raise self._translate(exc) from None

    def script(self, sql: str) -> None:
        """Run several statements (migrations)."""
        try:
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    self._conn.execute(statement)
        except sqlcipher3.Error as exc:
            raise self._translate(exc) from None

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection."""
        return self._depth > 0

    def before_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` just before the outermost transaction commits (once)."""
        if hook not in self._before_commit:
            self._before_commit.append(hook)

    def after_end(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` after the outermost transaction commits or rolls back (once)."""
        if hook not in self._after_end:
            self._after_end.append(hook)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable unit; nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            # IMMEDIATE takes the write lock at once, so two fieldkit processes on one workspace
            # queue (busy_timeout) instead of failing half-way with SQLITE_BUSY.
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlcipher3.Error as exc:
            raise self._translate(exc) from None
        self._depth = 1
        try:
            yield
            for hook in self._before_commit:
                hook()
            self._conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlcipher3.Error):
                self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlcipher3.Error):
                raise self._translate(exc) from None
            raise
        finally:
            self._depth = 0
            self._before_commit.clear()
            hooks, self._after_end = self._after_end, []
            for hook in hooks:
                hook()

    def close(self) -> None:
        """Release the connection (checkpointing the WAL when this is the last one)."""
        with contextlib.suppress(sqlcipher3.Error):
            self._conn.close()

    # -- errors ------------------------------------------------------------------------------

    def _translate(self, exc: sqlcipher3.Error) -> Exception:
        text = str(exc).lower()
        if "full" in text:
            return StorageFull(f"the disk is full: the last change to {self.path} was not saved")
        if "locked" in text or "busy" in text:
            return WorkspaceError("the workspace is busy in another fieldkit process; try again")
        if "readonly" in text or "read-only" in text:
            return WorkspaceError(f"cannot write {self.path}: it is read-only")
        if "unable to open" in text:
            return WorkspaceError(f"cannot open {self.path}")
        if isinstance(exc, sqlcipher3.IntegrityError | sqlcipher3.ProgrammingError) or (
            isinstance(exc, sqlcipher3.OperationalError) and "no such" in text
        ):
            bug: Exception = exc  # a bug in fieldkit, not a fault of the file: show it as one
            return bug
        return WorkspaceDamaged(f"database {self.path} is damaged")
