"""Server settings: resolved once by the caller into a frozen object and passed to create_app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SQLITE_FILE", "ServerSettings"]

SQLITE_FILE = "fieldkit-server.sqlite3"


@dataclass(frozen=True)
class ServerSettings:
    """Where the server keeps its data and the limits it enforces on every request."""

    data_dir: Path
    # None: one SQLite file in data_dir. Else e.g. postgresql://user@host/db (psycopg 3).
    database_url: str | None = None
    # Request limits: beyond them a 413/400 with a reason, never a 500 (DESIGN §6).
    max_body_bytes: int = 16 * 1024 * 1024  # on the wire (Content-Length or streamed)
    max_decompressed_bytes: int = 64 * 1024 * 1024  # after gzip: a bomb stops here
    body_timeout_seconds: float = 60.0  # a client that dribbles its body gets 408
    header_timeout_seconds: float = 20.0  # request line + headers; else the connection closes
    max_batch: int = 500  # envelopes per push
    max_envelope_bytes: int = 1024 * 1024  # canonical bytes of one envelope; larger: rejected
    default_pull_limit: int = 500
    max_pull_limit: int = 2000
    max_enroll_code_seconds: int = 30 * 24 * 3600
    # Worker processes verifying signatures of large push batches (0: in the serving process).
    verify_processes: int = 0
    # Hidden: POST /v1/bench/sink for bench/sync.py's baseline; off in production.
    bench_endpoints: bool = False
    # Extra keyword arguments for SQLAlchemy's create_engine (tests use a small pool).
    pool_size: int = 10

    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: PostgreSQL through psycopg 3, or the SQLite file in data_dir."""
        if self.database_url:
            url = self.database_url
            for prefix in ("postgresql://", "postgres://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{(self.data_dir / SQLITE_FILE).resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """True when the storage is the SQLite file (one writer at a time)."""
        return self.resolved_database_url().startswith("sqlite")
