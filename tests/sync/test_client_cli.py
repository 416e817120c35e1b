"""The sync commands end to end through typer's CliRunner, against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _client_kit import PASSPHRASE
from typer.testing import CliRunner

from fieldkit.cli import commands  # noqa: F401 - registers every command
from fieldkit.cli.app import app
from fieldkit.store import open_workspace

FORM_MD = """\
| survey |
| | type | name | label |
| | text | site | Site code |
| | integer | size | Household size |
| settings |
| | form_id | version | form_title |
| | visits | 2026112801 | Visits |
"""


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("FIELDKIT_HOME", raising=False)
    return CliRunner()


def _run(runner: CliRunner, home: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def _code(runner: CliRunner, coordinator: Path, role: str = "field") -> str:
    args = ["--home", str(coordinator), "project", "enroll-code", "--role", role, "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["code"])


def test_project_enrol_publish_sync_pull(tmp_path: Path, sync_server, runner: CliRunner) -> None:  # type: ignore[no-untyped-def]
    url, admin = sync_server.url, sync_server.admin_token
    coordinator, field = tmp_path / "c", tmp_path / "f"
    _run(runner, coordinator, "init")
    out = _run(
        runner,
        coordinator,
        "project",
        "create",
        "Visits 2026",
        "--server",
        url,
        "--admin-token",
        admin,
    )
    assert "Created project Visits 2026" in out and "Fingerprint: " in out
    fingerprint = out.split("Fingerprint: ", 1)[1].split()[0]
    shown = json.loads(
        runner.invoke(app, ["--home", str(coordinator), "project", "show", "--json"]).stdout
    )
    assert shown["fingerprint"] == fingerprint and shown["role"] == "coordinator"
    form = tmp_path / "visits.md"
    form.write_text(FORM_MD, encoding="utf-8")
    assert "Published form visits version 2026112801" in _run(
        runner, coordinator, "forms", "publish", str(form)
    )

    _run(runner, field, "init")
    # The code may be typed at a hidden prompt rather than left in the shell's history.
    result = runner.invoke(
        app,
        ["--home", str(field), "enroll", url, "-", "--name", "coast-laptop-1"],
        input=_code(runner, coordinator) + "\n",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Enrolled as field device" in out and "1 form version(s) received" in out
    assert f"(fingerprint {fingerprint})" in out
    assert "waiting for a coordinator's certificate" in _run(runner, field, "project", "show")
    with open_workspace(field, passphrase=PASSPHRASE) as ws:
        for site in ("KE-0101", "KE-0102"):
            draft = ws.records.create_draft(form_id="visits", form_version="2026112801")
            ws.records.finalize(draft.id, answers={"/data/site": site, "/data/size": "3"})

    assert "Sent 2 records; 0 waiting." in _run(runner, field, "sync")
    # The coordinator's pull certifies the laptop first, then takes its records.
    out = _run(runner, coordinator, "pull")
    assert "Pulled: 2 new records" in out and "Certified 1 new device." in out
    assert "Sent 0 records; 0 waiting." in _run(runner, field, "sync")
    assert "certified" in _run(runner, field, "project", "show", "--no-qr")
    with open_workspace(coordinator, passphrase=PASSPHRASE) as ws:
        sites = sorted(r.answers["/data/site"] for r in ws.records.list() if r.origin == "received")
    assert sites == ["KE-0101", "KE-0102"]
    devices = json.loads(
        runner.invoke(app, ["--home", str(coordinator), "project", "devices", "--json"]).stdout
    )
    assert sorted(d["name"] or "" for d in devices) == ["", "coast-laptop-1"]
    args = ["--home", str(coordinator), "project", "devices"]
    table = runner.invoke(app, args, env={"COLUMNS": "80"})
    laptop = next(d["device_id"] for d in devices if d["name"] == "coast-laptop-1")
    assert "coast-laptop-1" in next(x for x in table.stdout.splitlines() if laptop in x)
    assert "(no name)" in table.stdout  # the coordinator's laptop was created without one

    # A second coordinator enrols; the first certifies it on its next sync and seals the
    # project keys to it; one pull then brings everything.
    second = tmp_path / "c2"
    _run(runner, second, "init")
    _run(runner, second, "enroll", url, _code(runner, coordinator, "coordinator"))
    assert "Error: the project keys have not reached this laptop" in _run(
        runner, second, "pull", code=4
    )
    # Its sync says the same, as a sentence (its own records, if any, still went up).
    assert "The project keys have not reached this laptop yet" in _run(runner, second, "sync")
    assert "Certified 1 new device." in _run(runner, coordinator, "sync")
    assert "Pulled: 2 new records" in _run(runner, second, "pull")
    # What a sync or pull took in, the next one counts as received, not as nothing.
    assert "Pulled: 0 new records (2 received in all)." in _run(runner, second, "pull")
    third = tmp_path / "c3"
    _run(runner, third, "init")
    _run(runner, third, "enroll", url, _code(runner, coordinator, "coordinator"))
    _run(runner, coordinator, "sync")
    out = _run(runner, third, "sync")
    assert "Pulled 2 new records." in out and "keys have not reached" not in out
    assert "Pulled: 0 new records (2 received in all)." in _run(runner, third, "pull")

    # A field device may not pull; errors are one line with the class's exit code.
    out = _run(runner, field, "pull", code=4)
    assert "Error: only a coordinator" in out
    out = _run(runner, coordinator, "project", "approve", "no-such-device", code=2)
    assert "Error: device no-such-device is not a certified coordinator" in out
    # The retired server-made codes say what replaced them.
    out = _run(runner, coordinator, "server", "enroll-code", "--role", "field", code=2)
    assert "fieldkit project enroll-code" in out

    sync_server.stop()
    with open_workspace(field, passphrase=PASSPHRASE) as ws:
        draft = ws.records.create_draft(form_id="visits", form_version="2026112801")
        ws.records.finalize(draft.id, answers={"/data/site": "KE-0103", "/data/size": "1"})
    out = _run(runner, field, "sync", code=3)
    assert "Error: server unreachable" in out and "1 record waiting" in out


def test_a_mistyped_code_is_caught_before_anything_else(tmp_path: Path, runner: CliRunner) -> None:
    _run(runner, tmp_path / "f", "init")
    out = _run(runner, tmp_path / "f", "enroll", "http://127.0.0.1:9", "ABCDE-FGHJK", code=2)
    assert "not an enrolment code" in out
    out = _run(
        runner,
        tmp_path / "f",
        "enroll",
        "http://127.0.0.1:9",
        "ABCDE-FGHJK-MNPQR-STVWX-YZ012",
        code=2,
    )
    assert "mistyped" in out


def test_sync_before_enrolment_says_how_to_enrol(tmp_path: Path, runner: CliRunner) -> None:
    _run(runner, tmp_path / "f", "init")
    out = _run(runner, tmp_path / "f", "sync", code=1)
    assert "fieldkit enroll URL CODE" in out


def test_plain_http_to_a_remote_server_needs_the_flag(tmp_path: Path, runner: CliRunner) -> None:
    _run(runner, tmp_path / "f", "init")
    out = _run(runner, tmp_path / "f", "enroll", "http://192.0.2.10:8765", "CODE", code=2)
    assert "--insecure-http" in out


def test_project_show_prints_the_fingerprint_as_a_qr_code(
    tmp_path: Path, sync_server, runner: CliRunner
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "c"
    _run(runner, home, "init")
    _run(
        runner, home, "project", "create", "QR", "--server", sync_server.url,
        "--admin-token", sync_server.admin_token,
    )  # fmt: skip
    out = _run(runner, home, "project", "show")
    assert "Fingerprint: " in out and "certified" in out
    assert "█" in out or "▀" in out  # the QR code, drawn in block characters
    assert "█" not in _run(runner, home, "project", "show", "--no-qr")
def test_publish_without_version_gets_the_version_add_gives(
    tmp_path: Path,
    sync_server,  # type: ignore[no-untyped-def]
    runner: CliRunner,
) -> None:
    # Issue 13: `forms add` accepted a form without a version and `forms publish` refused it.
    coordinator, laptop = tmp_path / "c", tmp_path / "l"
    _run(runner, coordinator, "init")
    url, admin = sync_server.url, sync_server.admin_token
    _run(runner, coordinator, "project", "create", "P", "--server", url, "--admin-token", admin)
    form = tmp_path / "unversioned.md"
    form.write_text(FORM_MD.replace("| 2026112801 |", "| |"), encoding="utf-8")
    published = _run(runner, coordinator, "forms", "publish", str(form))
    _run(runner, laptop, "init")
    added = _run(runner, laptop, "forms", "add", str(form))
    version = published.split(" version ")[1].split(" ")[0]
    assert version.startswith("content-") and f"version {version}" in added
    missing = runner.invoke(app, ["--home", str(coordinator), "forms", "publish", "gone.md"])
    assert missing.exit_code != 0 and "gone.md" in missing.output


def test_an_unknown_used_or_expired_code_says_so(
    tmp_path: Path,
    sync_server,  # type: ignore[no-untyped-def]
    runner: CliRunner,
) -> None:
    """The server answers `enrolment_code_refused` for the three (one answer: a guesser learns
    nothing of which); the laptop says so in one line and exits 4, never "token refused"."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from fieldkit.exchange import EnrolmentCode
    from sync.server.schema import enroll_codes

    coordinator = tmp_path / "c"
    url, admin = sync_server.url, sync_server.admin_token
    _run(runner, coordinator, "init")
    _run(runner, coordinator, "project", "create", "P", "--server", url, "--admin-token", admin)
    fingerprint = json.loads(_run(runner, coordinator, "project", "show", "--json"))["fingerprint"]
    refused = "Error: the server does not know this enrolment code, or it was used or has expired"

    def enrol(laptop: str, code: str, exit_code: int) -> str:
        _run(runner, tmp_path / laptop, "init")
        out = _run(runner, tmp_path / laptop, "enroll", url, code, code=exit_code)
        assert "token" not in out and "Traceback" not in out, out
        # The server runs in this process: its access log may share the captured stream.
        return "".join(
            line for line in out.splitlines(keepends=True) if "fieldkit.server.access" not in line
        )

    unknown = str(EnrolmentCode.make(b"\x07" * 10, fingerprint=fingerprint))
    out = enrol("unknown", unknown, 4)
    assert out.count("\n") == 1 and out.startswith(refused), out

    code = _code(runner, coordinator)
    assert "Enrolled as field device" in enrol("first", code, 0)
    out = enrol("second", code, 4)
    assert out.count("\n") == 1 and out.startswith(refused), out

    late = _code(runner, coordinator)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with sync_server.app.state.engine.begin() as conn:
        conn.execute(
            update(enroll_codes).where(enroll_codes.c.used_at.is_(None)).values(expires_at=past)
        )
    out = enrol("late", late, 4)
    assert out.count("\n") == 1 and out.startswith(refused), out

    # The server's own answer names the refusal, so any client can tell it from a bad token.
    import urllib.request
    import uuid
    from urllib.error import HTTPError

    from fieldkit.crypto import enrolment
    from sync.protocol import b64encode

    body = json.dumps(
        {
            "code_id": enrolment.code_id(b"\x07" * 10),
            "device_id": str(uuid.uuid4()),
            "x25519": b64encode(b"\x01" * 32),
            "ed25519": b64encode(b"\x02" * 32),
            "mac": b64encode(b"\x03" * 32),
        }
    ).encode()
    request = urllib.request.Request(
        f"{url}/v1/enroll", data=body, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 (a loopback test server)
    assert raised.value.code == 401
    assert json.loads(raised.value.read())["error"]["code"] == "enrolment_code_refused"
