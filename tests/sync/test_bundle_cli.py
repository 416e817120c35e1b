"""The never-online laptop's whole path through the commands (docs/field-guide.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _client_kit import PASSPHRASE
from test_client_cli import FORM_MD
from typer.testing import CliRunner

from fieldkit.cli import commands  # noqa: F401 - registers every command
from fieldkit.cli.app import app
from fieldkit.store import open_workspace


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("FIELDKIT_HOME", raising=False)
    monkeypatch.setenv("COLUMNS", "220")  # the records table unwrapped
    return CliRunner()


def _run(runner: CliRunner, home: Path, *args: str, code: int = 0, input: str | None = None) -> str:
    result = runner.invoke(app, ["--home", str(home), *args], input=input)
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_enrol_receive_forms_and_deliver_by_usb(
    tmp_path: Path, sync_server, runner: CliRunner
) -> None:  # type: ignore[no-untyped-def]
    coordinator, remote, stick = tmp_path / "c", tmp_path / "remote", tmp_path / "stick"
    stick.mkdir()
    _run(runner, coordinator, "init")
    _run(
        runner,
        coordinator,
        "project",
        "create",
        "Visits 2026",
        "--server",
        sync_server.url,
        "--admin-token",
        sync_server.admin_token,
    )
    form = tmp_path / "visits.md"
    form.write_text(FORM_MD, encoding="utf-8")
    _run(runner, coordinator, "forms", "publish", str(form))

    made = json.loads(
        _run(runner, coordinator, "bundle", "export", "--enrol", "--out", str(stick), "--json")
    )
    enrolment_file, code = made["path"], made["code"]
    assert Path(enrolment_file).parent == stick

    _run(runner, remote, "init")
    out = _run(runner, remote, "bundle", "import", enrolment_file, "--code", "-", input=code + "\n")
    assert "Enrolled from the bundle (project fingerprint" in out and "1 form version" in out
    assert "Error: this laptop was enrolled from a bundle" in _run(runner, remote, "sync", code=1)
    assert "Visits 2026" in _run(runner, remote, "project", "show", "--no-qr")
    with open_workspace(remote, passphrase=PASSPHRASE) as ws:
        for site in ("KE-0101", "KE-0102"):
            draft = ws.records.create_draft(form_id="visits", form_version="2026112801")
            ws.records.finalize(draft.id, answers={"/data/site": site, "/data/size": "3"})
        ws.records.create_draft(form_id="visits", form_version="2026112801")

    out = _run(runner, remote, "bundle", "export", "--out", str(stick))
    assert out.startswith("Wrote ") and "(2 records)" in out
    records_file = out.split("Wrote ", 1)[1].split(" (", 1)[0]
    out = _run(runner, coordinator, "bundle", "import", records_file)
    assert "2 new records" in out and "certified 1 device" in out and "Receipt written to" in out
    receipt = out.split("Receipt written to ", 1)[1].split(":", 1)[0]
    assert "Nothing new" in _run(runner, coordinator, "bundle", "import", records_file)

    out = _run(runner, remote, "bundle", "import", receipt)
    assert "2 record(s) marked delivered" in out
    table = _run(runner, remote, "records", "list")
    assert table.count("delivered by bundle") == 2 and "draft" in table
    listed = json.loads(_run(runner, remote, "records", "list", "--json"))
    assert sorted(str(r["delivered_by"]) for r in listed) == ["None", "bundle", "bundle"]
    assert "Nothing to deliver" in _run(runner, remote, "bundle", "export", "--out", str(stick))
    # Every file on the stick has a neutral name.
    assert all(p.name.startswith("fieldkit-") and p.suffix == ".fkb" for p in stick.iterdir())


def test_bad_bundle_files_are_one_line_errors(tmp_path: Path, runner: CliRunner) -> None:
    home = tmp_path / "ws"
    _run(runner, home, "init")
    junk = tmp_path / "junk.fkb"
    junk.write_bytes(b"PK\x03\x04 not a bundle at all")
    out = _run(runner, home, "bundle", "import", str(junk), code=2)
    assert out.strip().splitlines()[-1] == "Error: junk.fkb is not a fieldkit bundle"
    out = _run(runner, home, "bundle", "import", str(tmp_path / "missing.fkb"), code=2)
    assert "Error: no bundle file" in out
    out = _run(runner, home, "bundle", "export", "--out", str(tmp_path), code=1)
    assert "Error: this workspace is not enrolled" in out
