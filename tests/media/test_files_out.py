"""Files read back out: `records show` lists them, `records open` writes one plaintext copy
with a warning, `export` leaves them out unless --include-media (issue 17)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from media_kit import PASSPHRASE, gps_jpeg, wav
from typer.testing import CliRunner, Result

from fieldkit.cli import app
from fieldkit.store import open_workspace


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _capture(home: Path, tmp_path: Path) -> tuple[str, bytes]:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(gps_jpeg())
    voice = tmp_path / "v.wav"
    voice.write_bytes(wav())
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"site": "S1", "photo": str(photo), "voice": str(voice)}))
    result = run("capture", "photo", "--answers", str(answers))
    assert result.exit_code == 0, result.output
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        (record,) = ws.records.list()
        attachment = ws.attachments.named(record.answers["/data/photo"])
        assert attachment is not None
        return record.id, b"".join(ws.attachments.chunks(attachment.id))


def test_show_lists_files_and_open_writes_one_copy(ws_home: Path, tmp_path: Path) -> None:
    record_id, photo = _capture(ws_home, tmp_path)
    shown = run("records", "show", record_id)
    assert shown.exit_code == 0, shown.output
    assert "image/jpeg" in shown.output and "audio/wav" in shown.output
    as_json = json.loads(run("records", "show", record_id, "--json").output)
    assert {a["kind"] for a in as_json["attachments"]} == {"image", "audio"}
    out = tmp_path / "copy.jpg"
    opened = run("records", "open", record_id, "photo", "--out", str(out))
    assert opened.exit_code == 0, opened.output
    assert out.read_bytes() == photo
    assert "not encrypted" in opened.output
    assert out.stat().st_mode & 0o077 == 0
    again = run("records", "open", record_id, "photo", "--out", str(out))
    assert again.exit_code == 2 and "exists" in again.output
    missing = run("records", "open", record_id, "nothing", "--out", str(out))
    assert missing.exit_code == 2 and "no file for question" in missing.output


def test_export_leaves_files_out_unless_asked(ws_home: Path, tmp_path: Path) -> None:
    record_id, photo = _capture(ws_home, tmp_path)
    plain = tmp_path / "plain"
    result = run("export", "--form", "photo", "--format", "csv", "--out", str(plain))
    assert result.exit_code == 0, result.output
    with (plain / "photo.csv").open() as handle:
        header = next(csv.reader(handle))
    assert "photo" not in header and "voice" not in header
    assert not (plain / "media").exists()
    full = tmp_path / "full"
    result = run(
        "export", "--form", "photo", "--format", "csv", "--out", str(full), "--include-media"
    )
    assert result.exit_code == 0, result.output
    with (full / "photo.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert (full / "media" / "photo" / row["photo"]).read_bytes() == photo
    assert (full / "media" / "photo" / row["voice"]).read_bytes() == wav()
    assert row["scan"] == ""
