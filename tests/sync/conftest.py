"""Real sync servers for tests: uvicorn on a free 127.0.0.1 port, SQLite or PostgreSQL.

Fixtures (each yields a ``RunningServer`` with ``.url`` (``http://127.0.0.1:PORT``, no trailing
slash), ``.admin_token``, ``.data_dir``, ``.database_url`` (None on SQLite) and ``.settings``):

- ``sync_server``: in-process server (uvicorn in a thread) on a fresh SQLite file in tmp_path.
- ``pg_sync_server``: the same on PostgreSQL, in a fresh schema dropped afterwards; skipped
  without FIELDKIT_TEST_DATABASE_URL.
- ``any_sync_server``: parametrized over both (``[sqlite]``, ``[postgres]``).
- ``pg_url``: a fresh PostgreSQL schema as a database URL (``?options=-csearch_path=…``).
- ``pg_server_factory``: ``make(name)`` starts one more server on PostgreSQL, each in a fresh
  schema under ``tmp_path/name`` (stopped and dropped after the test), for a test that
  compares two servers.

Helpers for crash tests (a real process that ``kill -9`` can hit):

- ``start_server_process(data_dir, *, database_url=None, bench_endpoints=False, port=None)``
  → ``ServerProcess`` with ``.url``, ``.admin_token``, ``.kill()`` (SIGKILL), ``.stop()``,
  ``.restart()`` (same data, same port) and ``.log_path`` (its stderr). The admin token is made
  in-process by ``init_server`` before the process starts.
- ``start_server_thread(data_dir, *, database_url=None, **settings)`` → ``RunningServer``
  (call ``.stop()``), for tests that need non-default limits.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from sync.server import ServerSettings, init_server

__all__ = [
    "RunningServer",
    "ServerProcess",
    "free_port",
    "start_server_process",
    "start_server_thread",
]


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A server serving in a thread of this process."""

    url: str
    admin_token: str
    data_dir: Path
    settings: ServerSettings
    database_url: str | None
    app: Any = field(repr=False, default=None)  # the FastAPI app (app.state.engine, …)
    _server: Any = field(repr=False, default=None)
    _thread: threading.Thread | None = field(repr=False, default=None)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
            self._server = None


def start_server_thread(
    data_dir: Path, *, database_url: str | None = None, init: bool = True, **overrides: Any
) -> RunningServer:
    """Init storage (unless init=False: admin_token is then ""), then serve
    create_app(settings) with uvicorn in a daemon thread."""
    import uvicorn

    from sync.server.runner import uvicorn_config

    settings = replace(ServerSettings(data_dir=data_dir, database_url=database_url), **overrides)
    token = init_server(settings) if init else ""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn_config(settings, host="127.0.0.1", port=port)
    assert isinstance(config, uvicorn.Config)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    return RunningServer(
        url=f"http://127.0.0.1:{port}",
        admin_token=token,
        data_dir=data_dir,
        settings=settings,
        database_url=database_url,
        app=config.app,
        _server=server,
        _thread=thread,
    )


@dataclass
class ServerProcess:
    """`fieldkit server run` as a real child process."""

    data_dir: Path
    port: int
    admin_token: str
    database_url: str | None
    bench_endpoints: bool
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait until /v1/health answers."""
        import requests

        args = [
            sys.executable,
            "-c",
            "from fieldkit.cli import main; main()",
            "server",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.database_url:
            args += ["--database-url", self.database_url]
        if self.bench_endpoints:
            args.append("--bench-endpoints")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if requests.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("server process did not become healthy")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL if it does not exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        """Start again on the same data and port (after kill or stop)."""
        self.start()


def start_server_process(
    data_dir: Path,
    *,
    database_url: str | None = None,
    bench_endpoints: bool = False,
    port: int | None = None,
) -> ServerProcess:
    """Init storage in-process, then run `fieldkit server run` as a child and wait for health."""
    token = init_server(ServerSettings(data_dir=data_dir, database_url=database_url))
    proc = ServerProcess(
        data_dir=data_dir,
        port=port or free_port(),
        admin_token=token,
        database_url=database_url,
        bench_endpoints=bench_endpoints,
        log_path=data_dir / "server.log",
    )
    proc.start()
    return proc


def _fresh_pg_schema(base_url: str) -> tuple[str, str]:
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base_url else "?"
    return schema, f"{base_url}{sep}options={quote(f'-csearch_path={schema}')}"


def _drop_pg_schema(base_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_url(database_url: str) -> Iterator[str]:
    """A database URL whose search_path is a fresh schema, dropped after the test."""
    schema, url = _fresh_pg_schema(database_url)
    try:
        yield url
    finally:
        _drop_pg_schema(database_url, schema)


@pytest.fixture
def sync_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A real server on SQLite (tmp_path/server), in a thread, on a free port."""
    server = start_server_thread(tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_sync_server(tmp_path: Path, pg_url: str) -> Iterator[RunningServer]:
    """A real server on PostgreSQL in a fresh schema; skipped without a test database."""
    server = start_server_thread(tmp_path / "server", database_url=pg_url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_server_factory(
    tmp_path: Path, database_url: str
) -> Iterator[Callable[[str], RunningServer]]:
    """``make(name)``: another in-thread server on PostgreSQL, in a schema of its own."""
    made: list[tuple[RunningServer, str]] = []

    def make(name: str) -> RunningServer:
        schema, url = _fresh_pg_schema(database_url)
        made.append((start_server_thread(tmp_path / name, database_url=url), schema))
        return made[-1][0]

    try:
        yield make
    finally:
        for server, schema in made:
            server.stop()
            _drop_pg_schema(database_url, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def any_sync_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    """The same test on SQLite and (when configured) PostgreSQL."""
    if request.param == "sqlite":
        server = start_server_thread(tmp_path / "server")
        try:
            yield server
        finally:
            server.stop()
        return
    base = os.environ.get("FIELDKIT_TEST_DATABASE_URL")
    if not base:
        pytest.skip("FIELDKIT_TEST_DATABASE_URL is not set")
    schema, url = _fresh_pg_schema(base)
    try:
        server = start_server_thread(tmp_path / "server", database_url=url)
        try:
            yield server
        finally:
            server.stop()
    finally:
        _drop_pg_schema(base, schema)
