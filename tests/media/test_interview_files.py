"""The terminal interview takes a file path at image, audio, video and file questions: checked,
copied in, stripped, the original deleted on request; a form with a required photo can be
finalized (issue 17)."""

from __future__ import annotations

from pathlib import Path

from media_kit import CANARY, PASSPHRASE, exif_tags, gps_jpeg
from typer.testing import CliRunner, Result

from fieldkit.cli import app
from fieldkit.store import open_workspace


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def lines(*entries: str) -> str:
    return "".join(f"{e}\n" for e in entries)


def test_a_required_photo_is_taken_in_the_terminal_and_finalized(
    ws_home: Path, tmp_path: Path
) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    photo = downloads / f"IMG-{CANARY}.jpg"
    photo.write_bytes(gps_jpeg())
    liar = downloads / "fake.jpg"
    liar.write_text("not a photo at all\n")
    script = lines("S1", str(liar), str(photo), "y", "", "", "", "", "f")
    result = run("capture", "photo", input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "path to the photo" in out
    assert "not a photo" in out  # the lie is refused, the question asked again
    assert "location, camera serial, owner and thumbnail removed" in out
    assert "delete the original from the Downloads folder?" in out
    assert "the original was deleted" in out
    assert "Finalized" in out
    assert not photo.exists() and liar.exists()
    assert CANARY not in out and str(downloads) not in out.replace("\n", "")
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        (record,) = ws.records.list(status="finalized")
        name = record.answers["/data/photo"]
        attachment = ws.attachments.named(name)
        assert attachment is not None and attachment.stripped
        data = b"".join(ws.attachments.chunks(attachment.id))
        assert exif_tags(data) == {0x0112: 6}
        assert CANARY.encode() not in data


def test_without_the_photo_the_record_cannot_be_finalized(ws_home: Path) -> None:
    script = lines("S1", "", "", "", "", "", "f", ":q")
    result = run("capture", "photo", input=script)
    assert "Finalized" not in result.output
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        assert ws.records.list(status="finalized") == []
