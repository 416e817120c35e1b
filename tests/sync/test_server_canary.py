"""Canary: answers pushed through the server never appear in its database or its logs.

The server runs as a real `fieldkit server run` process; its stderr (where its logs go) is
kept in a file. Two canaries:

- end to end, on SQLite and on PostgreSQL: a field laptop captures records whose answers hold
  a unique marker and syncs them with fieldkit's own client (sealing included); the
  coordinator pulls and decrypts them, which proves the marker travelled;
- by hand (tests/sync/_server_kit.py seals): envelopes with the marker, and broken requests
  that carry it where a careless server would echo or log it (bad JSON, unknown fields, query
  strings).

Afterwards every file of the server (the SQLite file and its WAL, the log) and, on
PostgreSQL, every row of every table of its schema are searched for the marker in plain text,
base64 (every alignment, standard and URL-safe), hex and percent-encoding — and for every bearer
token, which must only be stored hashed. Each search also finds the records' ids (plaintext
routing data), so a search that looks at the wrong bytes cannot pass.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from _client_kit import answers_of, capture, project
from _server_kit import create_project, enroll, pull_all, push, seal
from conftest import start_server_process

from fieldkit import exchange

pytestmark = pytest.mark.safety


def _encodings(secret: bytes) -> list[bytes]:
    forms = [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        quote(secret.decode()).encode(),
    ]
    for shift in range(3):
        # The marker inside a longer base64 text starts at any of three byte alignments; the
        # middle of its encoding is the same whatever comes before or after.
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(b"\x00" * shift + secret)
            start = (shift * 4 + 2) // 3 + 1
            forms.append(text[start : start + len(secret) - 4])
    return forms


@pytest.mark.slow
def test_no_plaintext_or_token_in_database_or_logs(tmp_path: Path) -> None:
    marker = ("CANARY-" + secrets.token_hex(12)).encode()
    server = start_server_process(tmp_path / "server")
    try:
        url, tok = server.url, server.admin_token
        project = create_project(url, tok)
        field = enroll(url, tok, project)
        answers = {"/data/name": marker.decode(), "/data/story": marker.decode() * 3}
        envs = [seal(field, project, answers) for _ in range(30)]
        assert {x["status"] for x in push(url, field, envs).json()["results"]} == {"created"}
        # Five statements (project, key, creator, offer, certificate) and 30 records.
        assert len(pull_all(url, project.coordinator)) == 35
        # Broken requests that carry the marker: none of it may be logged or echoed.
        leaky = [
            requests.post(
                url + "/v1/push",
                data=b'{"x": "' + marker,
                headers={**field.auth, "Content-Type": "application/json"},
                timeout=5,
            ),
            requests.post(
                url + "/v1/push",
                json={"envelopes": [], marker.decode(): 1},
                headers=field.auth,
                timeout=5,
            ),
            requests.get(
                url + "/v1/pull", params={"cursor": marker.decode()}, headers=field.auth, timeout=5
            ),
            requests.get(url + "/v1/pull?secret=" + marker.decode(), headers=field.auth, timeout=5),
            requests.post(
                url + "/v1/enroll",
                json={
                    "code_id": marker.decode()[:60],
                    "device_id": marker.decode(),
                    "x25519": "A" * 43 + "=",
                    "ed25519": "A" * 43 + "=",
                    "mac": "A" * 43 + "=",
                },
                timeout=5,
            ),
            requests.get(
                url + "/v1/pull", headers={"Authorization": "Bearer " + marker.decode()}, timeout=5
            ),
        ]
        for r in leaky:
            assert r.status_code < 500
            assert marker not in r.content
        assert [r.status_code >= 400 for r in leaky] == [True, True, True, False, True, True]
    finally:
        server.kill()  # no graceful checkpoint: the WAL is searched as it is
    tokens = [tok, field.token, project.coordinator.token]
    files = sorted(p for p in (tmp_path / "server").iterdir() if p.is_file())
    assert any(p.name.endswith(".sqlite3") for p in files)
    assert server.log_path in files
    log = server.log_path.read_bytes()
    assert b"/v1/push" in log  # the access log does record requests…
    assert b"secret=" not in log  # …but never their query strings
    for path in files:
        data = path.read_bytes()
        for form in _encodings(marker):
            assert form not in data, (path.name, form)
        for token in tokens:
            for form in _encodings(token.encode()):
                assert form not in data, (path.name, "token")


def _schema_rows(database_url: str) -> bytes:
    """Every row of every table in the URL's schema, as PostgreSQL's COPY text (bytea as hex)."""
    import psycopg

    out = bytearray()
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        tables = [row[0] for row in cur.fetchall()]
        assert "envelopes" in tables and "devices" in tables
        for table in tables:
            with cur.copy(f'COPY (SELECT * FROM "{table}") TO STDOUT') as copy:
                for chunk in copy:
                    out += chunk
    return bytes(out)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_records_synced_by_fieldkit_leave_no_plaintext_on_the_server(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    database_url = request.getfixturevalue("pg_url") if database == "postgres" else None
    marker = "CANARY-" + secrets.token_hex(12)
    (tmp_path / "server").mkdir()
    server = start_server_process(tmp_path / "server", database_url=database_url)
    try:
        coordinator, field = project(tmp_path, server.url, server.admin_token)
        ids = capture(field, 40, marker=marker)
        summary = exchange.sync(field, server=server.url)
        assert (summary.sent, summary.waiting) == (40, 0)
        exchange.pull(coordinator, server=server.url)
        # The marker did travel, sealed: the coordinator opens every record and finds it.
        received = answers_of(coordinator)
        assert set(received) == set(ids)
        assert all(answers["/data/story"].startswith(marker) for answers in received.values())
        tokens = [
            server.admin_token,
            str(coordinator.state.get("sync.token")),
            str(field.state.get("sync.token")),
        ]
    finally:
        server.kill()  # no graceful checkpoint: the WAL is searched as it is
    stores = {p.name: p.read_bytes() for p in (tmp_path / "server").iterdir() if p.is_file()}
    assert "server.log" in stores
    if database_url is None:
        assert any(name.endswith(".sqlite3") for name in stores)
        held = b"".join(data for name, data in stores.items() if name != "server.log")
    else:
        held = _schema_rows(database_url)
        stores["PostgreSQL rows"] = held
    # The search looks at the right bytes: the records' (plaintext) ids are there.
    assert all(record_id.encode() in held for record_id in ids)
    for name, data in stores.items():
        for form in _encodings(marker.encode()):
            assert form not in data, (name, form)
        for token in tokens:
            for form in _encodings(token.encode()):
                assert form not in data, (name, "token")


def test_encodings_find_the_marker_anywhere() -> None:
    marker = b"CANARY-0123456789abcdef"
    forms = _encodings(marker)
    for prefix in (b"", b"x", b"xy", b"xyz"):
        text = base64.b64encode(prefix + marker + b"tail")
        assert any(f in text for f in forms[4:]), prefix


def test_unexpected_errors_log_no_message(
    sync_server: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from conftest import RunningServer
    from sqlalchemy.exc import OperationalError

    from sync.server import feed

    assert isinstance(sync_server, RunningServer)
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    secret = "CANARY-" + secrets.token_hex(8)

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError(secret)

    def storage_down(*args: object, **kwargs: object) -> bytes:
        raise OperationalError("SELECT " + secret, {"p": secret}, Exception(secret))

    caplog.set_level("DEBUG")
    for fault, status in ((broken, 500), (storage_down, 503)):
        monkeypatch.setattr(feed, "pull", fault)
        r = requests.get(url + "/v1/pull", headers=project.coordinator.auth, timeout=5)
        assert r.status_code == status
        assert set(r.json()["error"]) == {"code", "message"} and secret not in r.text
    assert "RuntimeError" in caplog.text and "OperationalError" in caplog.text
    assert secret not in caplog.text
