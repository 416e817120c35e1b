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
    # gzip may expand a body at most this many times (valid sync bodies stay under 10×; a
    # bomb is 1000×): a small upload cannot turn into a large allocation.
    max_decompression_ratio: int = 100
    # Requests without a bearer token (enrolment is the only one that carries a body) may
    # send this much, before and after decompression; anything else is authenticated first.
    max_anonymous_body_bytes: int = 64 * 1024
    # Bodies in flight across all requests, counted as the memory their parsing takes
    # (sync/server/budget.py). A request that does not fit waits up to budget_wait_seconds,
    # then gets 503 with Retry-After; one that could never fit gets 413.
    body_memory_budget_bytes: int = 256 * 1024 * 1024
    budget_wait_seconds: float = 5.0
    # Deadlines for slow clients. A request head must be complete within
    # header_timeout_seconds of the connection opening (or of the previous reply), else the
    # connection is closed. A body may pause at most body_idle_seconds between packets, and
    # must be complete within body_timeout_seconds unless it keeps arriving at
    # body_min_bytes_per_second or faster (a 64 kbit/s link carries 8,000 B/s): else 408.
    header_timeout_seconds: float = 10.0
    body_idle_seconds: float = 10.0
    body_timeout_seconds: float = 60.0
    body_min_bytes_per_second: int = 1000
    # Connections: at most this many open at once (when full, the longest-idle connection is
    # closed to admit a new one), and at most max_connections_per_address from one address
    # (0: no per-address cap). A reverse proxy's own address is exempt (trusted_proxies):
    # the proxy caps each client itself (docs/admin.md).
    max_connections: int = 1024
    max_connections_per_address: int = 32
    trusted_proxies: tuple[str, ...] = ()
    max_batch: int = 500  # envelopes per push
    max_envelope_bytes: int = 1024 * 1024  # canonical bytes of one envelope; larger: rejected
    # Sealed attachments (DESIGN §6a): at most this many bytes per device, sent and fetched in
    # parts of at most max_attachment_part_bytes (each fits the memory budget many times over).
    attachment_quota_bytes: int = 4 * 1024 * 1024 * 1024
    max_attachment_part_bytes: int = 4 * 1024 * 1024
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
