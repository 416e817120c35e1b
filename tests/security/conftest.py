"""The breached server, played for real: a `fieldkit server run` process whose database the
test edits directly (SQLite and PostgreSQL), and an HTTP proxy that rewrites its replies.

Fixtures:
- ``breached``: a ``Breached`` server (``.url``, ``.admin_token``, ``.engine()`` — a direct
  connection to its tables, as an attacker who owns the database has — and ``.kill()``),
  parametrized over SQLite and PostgreSQL (skipped without FIELDKIT_TEST_DATABASE_URL).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SYNC_TESTS = Path(__file__).resolve().parents[1] / "sync"
if str(SYNC_TESTS) not in sys.path:
    sys.path.insert(0, str(SYNC_TESTS))  # _client_kit, _server_kit, _proxy


def _servers() -> Any:
    spec = importlib.util.spec_from_file_location("sync_test_servers", SYNC_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sync_test_servers", module)
    spec.loader.exec_module(module)
    return module


SERVERS = _servers()


@dataclass
class Breached:
    """A real server process and the attacker's own handle on its database."""

    process: Any
    database_url: str | None
    _engine: Any = None

    @property
    def url(self) -> str:
        return str(self.process.url)

    @property
    def admin_token(self) -> str:
        return str(self.process.admin_token)

    def engine(self) -> Any:
        from sync.server import ServerSettings
        from sync.server.db import make_engine

        if self._engine is None:
            settings = ServerSettings(
                data_dir=self.process.data_dir, database_url=self.database_url
            )
            self._engine = make_engine(settings)
        return self._engine

    def close(self) -> None:
        self.process.kill()
        if self._engine is not None:
            self._engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def breached(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Breached]:
    if request.param == "sqlite":
        server = Breached(SERVERS.start_server_process(tmp_path / "server"), None)
        try:
            yield server
        finally:
            server.close()
        return
    base = os.environ.get("FIELDKIT_TEST_DATABASE_URL")
    if not base:
        pytest.skip("FIELDKIT_TEST_DATABASE_URL is not set")
    schema, url = SERVERS._fresh_pg_schema(base)
    (tmp_path / "server").mkdir()
    try:
        server = Breached(SERVERS.start_server_process(tmp_path / "server", database_url=url), url)
        try:
            yield server
        finally:
            server.close()
    finally:
        SERVERS._drop_pg_schema(base, schema)
