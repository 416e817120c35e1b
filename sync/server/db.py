"""The storage engine (SQLite file or PostgreSQL) and the migrations applied at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from fieldkit.errors import ServerError
from sync.server.files import prepare_data_dir
from sync.server.settings import SQLITE_FILE, ServerSettings

__all__ = ["READ", "make_engine", "migrate"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Execution option marking a read-only transaction: on SQLite it begins DEFERRED so readers
# run beside the one writer (WAL); writers begin IMMEDIATE so two writers never deadlock on
# a lock upgrade (SQLITE_BUSY in the middle of a transaction).
READ = {"fieldkit_read": True}

_MIGRATION_LOCK = 0x66696B  # "fik": the advisory lock key the migrations run under


def make_engine(settings: ServerSettings) -> Engine:
    """An engine for the configured database; parameters are never rendered into errors/logs."""
    url = settings.resolved_database_url()
    try:
        if url.startswith("sqlite"):
            # 0700 folder, 0600 file: SQLite's -wal and -shm files take the file's mode.
            prepare_data_dir(settings.data_dir, sqlite_file=settings.data_dir / SQLITE_FILE)
            engine = create_engine(
                url,
                hide_parameters=True,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=settings.pool_size,
                max_overflow=settings.pool_size,
            )
            _sqlite_pragmas(engine)
            return engine
        return create_engine(
            url,
            hide_parameters=True,
            pool_pre_ping=True,
            pool_size=settings.pool_size,
            max_overflow=settings.pool_size,
        )
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise ServerError(f"cannot use the database URL ({exc.__class__.__name__})") from None


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed push survives power loss, as the reply promised (DESIGN §6).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        # Zero what is deleted (an erased case's envelopes) instead of leaving it in free pages.
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        read = conn.get_execution_options().get("fieldkit_read", False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


def migrate(engine: Engine) -> None:
    """Apply every alembic migration shipped in the package (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Two hosts starting at once on one database: one migrates, the other waits
                # and then finds nothing to do (a lock held until this transaction ends).
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        raise ServerError(f"cannot prepare the database ({exc.__class__.__name__})") from None
