"""Storage: migrations build exactly the tables the code uses, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests
from _server_kit import create_project, enroll
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import start_server_thread
from sqlalchemy import inspect

from fieldkit.errors import ServerError
from sync.server import ServerSettings, serve
from sync.server.db import make_engine, migrate
from sync.server.schema import metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_match_the_schema_module(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    engine = make_engine(ServerSettings(data_dir=tmp_path, database_url=url))
    try:
        migrate(engine)
        migrate(engine)  # idempotent: a restart applies nothing twice
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == []
        assert set(metadata.tables) | {"alembic_version"} == tables
    finally:
        engine.dispose()


def test_bench_sink_only_when_enabled(tmp_path: Path) -> None:
    server = start_server_thread(tmp_path / "on", bench_endpoints=True)
    try:
        url = server.url
        project = create_project(url, server.admin_token)
        field = enroll(url, server.admin_token, project)
        r = requests.post(url + "/v1/bench/sink", json={"a": 1}, headers=field.auth, timeout=5)
        assert r.status_code == 204
        assert requests.post(url + "/v1/bench/sink", json={}, timeout=5).status_code == 401
        assert "/v1/bench/sink" not in requests.get(url + "/openapi.json", timeout=5).text
    finally:
        server.stop()
    server = start_server_thread(tmp_path / "off")
    try:
        r = requests.post(server.url + "/v1/bench/sink", json={}, timeout=5)
        assert r.status_code == 404
    finally:
        server.stop()


def test_openapi_and_docs_are_served(tmp_path: Path) -> None:
    server = start_server_thread(tmp_path / "srv")
    try:
        spec = requests.get(server.url + "/openapi.json", timeout=5).json()
        paths = set(spec["paths"])
        assert {
            "/v1/push",
            "/v1/pull",
            "/v1/enroll",
            "/v1/health",
            "/v1/projects",
            "/v1/admin/devices",
            "/v1/forms",
            "/v1/devices",
            "/v1/key-grants",
            "/v1/statements",
            "/v1/enrolments",
            "/v1/enrolments/refuse",
            "/v1/projects/identity",
        } <= paths
        assert "Envelope" in spec["components"]["schemas"]
        assert requests.get(server.url + "/docs", timeout=5).status_code == 200
    finally:
        server.stop()


def test_serve_on_a_busy_port_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServerError, match="cannot listen"):
            serve(ServerSettings(data_dir=tmp_path), host="127.0.0.1", port=port)


def test_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, database_url="postgresql://x@127.0.0.1:1/none")
    with pytest.raises(ServerError, match="cannot prepare the database"):
        migrate(make_engine(settings))


def test_server_never_imports_the_field_toolkit() -> None:
    """DESIGN §2: the server stores envelopes it cannot read; it has no use for forms,
    the workspace or capture."""
    import subprocess
    import sys

    code = (
        "import sys, tempfile, pathlib\n"
        "from sync.server import ServerSettings, create_app\n"
        "create_app(ServerSettings(data_dir=pathlib.Path(tempfile.mkdtemp())))\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in "
        "(['fieldkit', 'forms'], ['fieldkit', 'store'], ['fieldkit', 'capture'])]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
