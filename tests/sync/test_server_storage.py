"""Storage: migrations build exactly the tables the code uses, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import requests
from _server_kit import create_project, enroll
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import start_server_thread
from sqlalchemy import Dialect, Table, UniqueConstraint, inspect
from sqlalchemy.engine.reflection import Inspector

from fieldkit.errors import ServerError
from sync.server import ServerSettings, serve
from sync.server.db import make_engine, migrate
from sync.server.schema import metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_match_the_schema_module(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """The SQLModel models (sync/server/schema.py) and the database the alembic migrations
    build are the same schema: tables, column types, nullability, keys, indexes, uniques."""
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    engine = make_engine(ServerSettings(data_dir=tmp_path, database_url=url))
    try:
        migrate(engine)
        migrate(engine)  # idempotent: a restart applies nothing twice
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
            db = inspect(conn)
            tables = set(db.get_table_names())
            assert diff == []
            assert set(metadata.tables) | {"alembic_version"} == tables
            for table in metadata.sorted_tables:
                shape = _db_shape(db, table.name, conn.dialect)
                assert _model_shape(table, conn.dialect) == shape, table.name
    finally:
        engine.dispose()


def _model_shape(table: Table, dialect: Dialect) -> dict[str, Any]:
    return {
        "columns": {
            c.name: (str(c.type.compile(dialect=dialect)), bool(c.nullable)) for c in table.columns
        },
        "primary_key": sorted(c.name for c in table.primary_key.columns),
        "indexes": sorted(
            (str(ix.name), tuple(c.name for c in ix.columns), bool(ix.unique))
            for ix in table.indexes
        ),
        "unique": sorted(
            tuple(sorted(c.name for c in u.columns))
            for u in table.constraints
            if isinstance(u, UniqueConstraint)  # a column's unique=True becomes one too
        ),
    }


def _db_shape(db: Inspector, name: str, dialect: Dialect) -> dict[str, Any]:
    # A unique constraint may come back as a unique index too (SQLite): count it once.
    uniques = sorted(tuple(sorted(u["column_names"])) for u in db.get_unique_constraints(name))
    return {
        "columns": {
            c["name"]: (str(c["type"].compile(dialect=dialect)), bool(c["nullable"]))
            for c in db.get_columns(name)
        },
        "primary_key": sorted(db.get_pk_constraint(name)["constrained_columns"]),
        "indexes": sorted(
            (str(ix["name"]), tuple(str(c) for c in ix["column_names"]), bool(ix["unique"]))
            for ix in db.get_indexes(name)
            if not (ix["unique"] and (tuple(sorted(ix["column_names"])) in uniques))
        ),
        "unique": uniques,
    }


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
        # Without a token the body is refused from its headers (401) before any route is
        # looked up; with one, the route does not exist.
        assert requests.post(server.url + "/v1/bench/sink", json={}, timeout=5).status_code == 401
        project = create_project(server.url, server.admin_token)
        field = enroll(server.url, server.admin_token, project)
        r = requests.post(server.url + "/v1/bench/sink", json={}, headers=field.auth, timeout=5)
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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_database_of_the_first_schema_upgrades_and_keeps_its_records(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """A server made by 0.1 (revision 0001) keeps every envelope and its feed after the
    upgrade; envelopes become keyed by (device, record id)."""
    from datetime import UTC, datetime

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from sync.server import ServerSettings
    from sync.server.db import MIGRATIONS

    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    settings = ServerSettings(data_dir=tmp_path / "srv", database_url=url)
    engine = make_engine(settings)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO envelopes (record_id, project_id, device_id, body, body_sha256, "
                    "received_at) VALUES (:r, 'p_1', 'd_1', :b, :h, :t)"
                ),
                {"r": "6f1c0000-0000-4000-8000-000000000001", "b": b"{}", "h": b"h" * 32, "t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO changes (change_no, project_id, kind, ref, audience) "
                    "VALUES (1, 'p_1', 'envelope', :r, 'd_1')"
                ),
                {"r": "6f1c0000-0000-4000-8000-000000000001"},
            )
        migrate(engine)
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT device_id, record_id FROM envelopes")).all()
            assert [tuple(r) for r in rows] == [("d_1", "6f1c0000-0000-4000-8000-000000000001")]
            pk = inspect(conn).get_pk_constraint("envelopes")["constrained_columns"]
            assert sorted(pk) == ["device_id", "record_id"]
    finally:
        engine.dispose()
