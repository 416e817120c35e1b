"""Starting the server and preparing its storage: what `fieldkit server run|init` call."""

from __future__ import annotations

import gc
import logging
import socket
import sys

from sqlalchemy import Connection, delete, func, insert, select, text, update

from fieldkit.errors import ServerError, UsageError
from sync.server.auth import new_token, store_admin_token
from sync.server.db import make_engine, migrate
from sync.server.retry import in_transaction
from sync.server.schema import admin_tokens, counters, metadata
from sync.server.settings import ServerSettings

__all__ = ["copy_storage", "init_server", "serve", "uvicorn_config"]


def init_server(settings: ServerSettings, *, rotate: bool = False) -> str:
    """Create or upgrade the schema and make the admin token, returned once (only its hash
    is kept). With rotate, every earlier admin token stops working."""
    engine = make_engine(settings)
    try:
        migrate(engine)

        def work(conn: Connection) -> str:
            exists = conn.execute(select(admin_tokens.c.token_hash).limit(1)).first()
            if exists is not None and not rotate:
                raise ServerError(
                    "server already initialised; use --new-admin-token to replace the admin token"
                )
            conn.execute(delete(admin_tokens))
            token = new_token()
            store_admin_token(conn, token)
            return token

        return in_transaction(engine, work)
    finally:
        engine.dispose()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record.

    A handler holding the stream it was made with keeps writing to it after it is closed (a
    server started in-process under a test runner that swapped stderr), and every later record
    then prints a "Logging error" traceback.
    """

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def _configure_logging() -> None:
    from sync.server.logline import LineFormatter

    handler = _StderrHandler()
    handler.setFormatter(LineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("fieldkit.server")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def uvicorn_config(settings: ServerSettings, *, host: str, port: int, log: bool = True) -> object:
    """A uvicorn Config for the app with the timeouts that keep slow clients in check."""
    import uvicorn

    from sync.server.app import create_app
    from sync.server.http11 import protocol_class

    return uvicorn.Config(
        create_app(settings),
        http=protocol_class(settings),
        host=host,
        port=port,
        # Our access log (fieldkit.server.access) leaves query strings and headers out.
        access_log=False,
        log_config=None,
        log_level="warning" if log else "critical",
        timeout_keep_alive=15,
        timeout_graceful_shutdown=10,
        # Not uvicorn's limit_concurrency: it counts idle connections too, so idle ones could
        # keep everyone at 503. Connections are capped by our protocol (sync/server/http11.py),
        # bodies by the memory budget (sync/server/budget.py).
        limit_concurrency=None,
        backlog=2048,
        # Bound header size too (h11 default 16 KiB) so a request line cannot exhaust memory.
        h11_max_incomplete_event_size=64 * 1024,
        server_header=False,
    )


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def serve(settings: ServerSettings, *, host: str, port: int) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    _configure_logging()
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")
    for address in settings.trusted_proxies:
        if not _is_ip(address):
            raise UsageError("--trusted-proxy must be an IP address, e.g. 127.0.0.1")
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ServerError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    _raise_file_limit(settings.max_connections)
    config = uvicorn_config(settings, host=host, port=port)
    assert isinstance(config, uvicorn.Config)
    # A push batch makes tens of thousands of short-lived objects; with the default
    # thresholds the cyclic GC ran every few hundred of them and cost ~10% of push time.
    # Long-lived startup objects are frozen out of collection entirely.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    log = logging.getLogger("fieldkit.server")
    if not _is_loopback(host):
        log.warning(
            "serving plain HTTP on %s: put a TLS reverse proxy in front (docs/admin.md)", host
        )
    log.info(
        "serving on http://%s:%d (%s)", host, port, "SQLite" if settings.is_sqlite else "PostgreSQL"
    )
    uvicorn.Server(config).run()


def _raise_file_limit(connections: int) -> None:
    """Let the process hold every connection it admits (each is a file descriptor)."""
    import resource

    needed = connections + 256  # database, log, workers, listening socket
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target < needed:
        logging.getLogger("fieldkit.server").warning(
            "this process may open %d files, fewer than the %d connections it admits; "
            "raise its limit (ulimit -n) or lower max_connections",
            target,
            connections,
        )


_COPY_CHUNK = 1000


def copy_storage(source: ServerSettings, target: ServerSettings) -> dict[str, int]:
    """Copy every table from one database to another (e.g. SQLite → PostgreSQL).

    The target gets the current schema first and must hold no project yet. Change numbers,
    device tokens (hashed) and the admin token are kept, so devices carry on where they were.
    Stop the server on the source first. Returns the number of rows copied per table.
    """
    src, dst = make_engine(source), make_engine(target)
    try:
        migrate(src)
        migrate(dst)
        copied: dict[str, int] = {}

        def work(out: Connection) -> None:
            for table in metadata.sorted_tables:
                if out.execute(select(func.count()).select_from(table)).scalar_one() and (
                    table is not counters
                ):
                    raise ServerError(f"the target database already holds {table.name}")
            with src.connect() as inp:
                for table in metadata.sorted_tables:
                    rows = 0
                    result = inp.execution_options(yield_per=_COPY_CHUNK).execute(select(table))
                    for chunk in result.mappings().partitions():
                        batch = [dict(row) for row in chunk]
                        if table is counters:
                            for row in batch:
                                out.execute(
                                    update(counters)
                                    .where(counters.c.name == row["name"])
                                    .values(value=row["value"])
                                )
                        else:
                            out.execute(insert(table), batch)
                        rows += len(batch)
                    copied[table.name] = rows
            if dst.dialect.name == "postgresql":
                # key_grants ids were copied explicitly: move its sequence past them.
                out.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('key_grants', 'grant_id'), "
                        "COALESCE((SELECT MAX(grant_id) FROM key_grants), 0) + 1, false)"
                    )
                )

        in_transaction(dst, work)
        return copied
    finally:
        src.dispose()
        dst.dispose()
