"""`fieldkit server …` commands: init, enroll-code, devices list/revoke (DESIGN §8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from _server_kit import admin, create_project, enroll
from conftest import RunningServer, free_port
from typer.testing import CliRunner

from fieldkit.cli import app
from sync.admin import parse_duration


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_init_prints_token_once(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    code, out, _ = _run("server", "init", "--data-dir", str(data), "--json")
    assert code == 0
    token = json.loads(out)["admin_token"]
    assert len(token) >= 43
    db = (data / "fieldkit-server.sqlite3").read_bytes()
    assert token.encode() not in db
    code, out, err = _run("server", "init", "--data-dir", str(data), "--json")
    assert code == 1 and out == "" and "already initialised" in err
    code, out, _ = _run("server", "init", "--data-dir", str(data), "--new-admin-token", "--json")
    assert code == 0 and json.loads(out)["admin_token"] != token


def test_init_on_postgres(tmp_path: Path, pg_url: str) -> None:
    code, out, err = _run(
        "server", "init", "--data-dir", str(tmp_path), "--database-url", pg_url, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["admin_token"]


def test_init_with_bad_database_url(tmp_path: Path) -> None:
    code, _, err = _run(
        "server",
        "init",
        "--data-dir",
        str(tmp_path),
        "--database-url",
        "postgresql://nobody@127.0.0.1:1/none",
    )
    assert code == 1 and err.startswith("Error: cannot prepare the database")


def test_devices_list_and_revoke(
    sync_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    dev = enroll(url, tok, project)
    device_id, token = dev.device_id, dev.token

    code, out, _ = _run(
        "server", "devices", "list", "--server", url, "--admin-token", tok, "--json"
    )
    listed = {d["device_id"]: d for d in json.loads(out)}
    assert set(listed) == {project.coordinator.device_id, device_id}
    assert listed[project.coordinator.device_id]["name"] == "office laptop"
    assert listed[device_id]["revoked_at"] is None

    # At 80 columns the device id and its name, what an admin looks for, are whole on one line.
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _run("server", "devices", "list", "--server", url, "--admin-token", tok)
    assert code == 0 and device_id in out
    line = next(x for x in out.splitlines() if project.coordinator.device_id in x)
    assert "office laptop" in line

    code, out, _ = _run(
        "server", "devices", "revoke", device_id, "--server", url, "--admin-token", tok
    )
    assert code == 0 and device_id in out
    r = requests.get(url + "/v1/pull", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 401


def test_server_enroll_code_is_retired(sync_server: RunningServer) -> None:
    # Old scripts get one line saying what replaced it, whatever options they pass.
    code, _, err = _run(
        "server",
        "enroll-code",
        "--server",
        sync_server.url,
        "--admin-token",
        sync_server.admin_token,
        "--role",
        "coordinator",
        "--json",
    )
    assert code == 2 and "fieldkit project enroll-code" in err.strip().splitlines()[-1]


def test_admin_errors_map_to_exit_codes(sync_server: RunningServer) -> None:
    code, _, err = _run(
        "server", "devices", "list", "--server", sync_server.url, "--admin-token", "x" * 43
    )
    # The server under test runs in this process, so its access log may share stderr here;
    # the command's own output is the one error line at the end.
    assert code == 4 and err.strip().splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in err
    code, _, err = _run(
        "server",
        "devices",
        "list",
        "--server",
        f"http://127.0.0.1:{free_port()}",
        "--admin-token",
        "x" * 43,
    )
    assert code == 3 and "unreachable" in err
    r = requests.get(sync_server.url + "/v1/admin/devices", headers=admin("bad"), timeout=5)
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_server_help_lists_commands() -> None:
    code, out, _ = _run("server", "--help")
    for name in ("run", "init", "devices"):
        assert name in out
    code, out, _ = _run("server", "run", "--help")
    assert "--database-url" in out and "--bench-endpoints" not in out


def test_copy_sqlite_to_postgres_keeps_everything(tmp_path: Path, pg_url: str) -> None:
    from _server_kit import enroll, pull_all, push, seal
    from conftest import start_server_thread

    sqlite_server = start_server_thread(tmp_path / "srv")
    try:
        url, tok = sqlite_server.url, sqlite_server.admin_token
        project = create_project(url, tok)
        field = enroll(url, tok, project)
        second = enroll(url, tok, project, role="coordinator")
        push(url, field, [seal(field, project, {"/data/q": str(i)}) for i in range(12)])
        grant = {"device_id": second.device_id, "wrapped": "d3JhcHBlZA=="}
        requests.post(
            url + "/v1/key-grants", json=grant, headers=project.coordinator.auth, timeout=5
        ).raise_for_status()
        before = pull_all(url, project.coordinator)
    finally:
        sqlite_server.stop()
    code, out, err = _run("server", "copy", "--data-dir", str(tmp_path / "srv"), "--to", pg_url)
    assert code == 0, err
    assert "12 envelopes" in out
    code, _, err = _run("server", "copy", "--data-dir", str(tmp_path / "srv"), "--to", pg_url)
    assert code == 1 and "already holds" in err

    # The same admin token, device tokens, cursors and records now serve from PostgreSQL.
    pg_server = start_server_thread(tmp_path / "pg", database_url=pg_url, init=False)
    try:
        url = pg_server.url
        assert pull_all(url, project.coordinator) == before
        assert [c["type"] for c in pull_all(url, second)].count("key_grant") == 1
        r = requests.get(url + "/v1/admin/devices", headers=admin(tok), timeout=5)
        assert len(r.json()["devices"]) == 3
        more = [seal(field, project, {"/data/q": "after"})]
        assert push(url, field, more).json()["results"][0]["status"] == "created"
        after = pull_all(url, project.coordinator)
        assert after[: len(before)] == before and after[-1]["seq"] > before[-1]["seq"]
        r = requests.post(
            url + "/v1/key-grants", json=grant, headers=project.coordinator.auth, timeout=5
        )
        assert r.status_code == 200, r.text
    finally:
        pg_server.stop()
