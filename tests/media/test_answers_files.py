"""`capture --answers` with files: copied in, checked by content and size, metadata stripped,
the path never stored (issue 17)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from media_kit import CANARY, PASSPHRASE, exif_tags, gps_jpeg, mp4, pixels, wav
from typer.testing import CliRunner, Result

from fieldkit.cli import app
from fieldkit.store import open_workspace

GPS = 0x8825 << 16


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def answers_file(tmp_path: Path, **answers: str) -> Path:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"site": "S1", **answers}))
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    folder = tmp_path / "Downloads of Amina Example"
    folder.mkdir()
    path = folder / f"amina-{CANARY}.jpg"
    path.write_bytes(gps_jpeg())
    return path


def stored(home: Path) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        (record,) = ws.records.list()
        files = [
            (a.name, b"".join(ws.attachments.chunks(a.id)))
            for a in ws.attachments.for_record(record.id)
        ]
        return dict(record.answers), files


def test_a_required_photo_is_copied_stripped_and_named_by_the_copy(
    ws_home: Path, tmp_path: Path, photo: Path
) -> None:
    result = run("capture", "photo", "--answers", str(answers_file(tmp_path, photo=str(photo))))
    assert result.exit_code == 0, result.output
    answers, files = stored(ws_home)
    ((name, data),) = files
    assert answers["/data/photo"] == name
    assert name.endswith(".jpg") and CANARY not in name and "amina" not in name
    assert str(photo) not in json.dumps(answers) and "Downloads" not in json.dumps(answers)
    tags = exif_tags(data)
    assert not any(tag >> 16 == 0x8825 for tag in tags)  # no GPS
    assert tags == {0x0112: 6}  # the orientation alone survives
    assert CANARY.encode() not in data
    assert pixels(data) == pixels(photo.read_bytes())  # not re-encoded
    assert photo.exists()  # kept unless asked


def test_relative_paths_are_read_from_the_answers_file_folder(
    ws_home: Path, tmp_path: Path, photo: Path
) -> None:
    rel = os.path.relpath(photo, tmp_path)
    result = run("capture", "photo", "--answers", str(answers_file(tmp_path, photo=rel)))
    assert result.exit_code == 0, result.output


def test_a_form_may_keep_metadata_only_where_it_says_so(
    ws_home: Path, tmp_path: Path, photo: Path
) -> None:
    scan = tmp_path / "scan.jpg"
    scan.write_bytes(gps_jpeg())
    path = answers_file(tmp_path, photo=str(photo), scan=str(scan))
    result = run("capture", "photo", "--answers", str(path))
    assert result.exit_code == 0, result.output
    answers, files = stored(ws_home)
    by_name = dict(files)
    assert by_name[answers["/data/scan"]] == scan.read_bytes()
    assert CANARY.encode() not in by_name[answers["/data/photo"]]


def test_delete_originals(ws_home: Path, tmp_path: Path, photo: Path) -> None:
    voice = tmp_path / "voice.wav"
    voice.write_bytes(wav())
    path = answers_file(tmp_path, photo=str(photo), voice=str(voice))
    result = run("capture", "photo", "--answers", str(path), "--delete-originals")
    assert result.exit_code == 0, result.output
    assert not photo.exists() and not voice.exists()
    answers, files = stored(ws_home)
    assert dict(files)[answers["/data/voice"]] == wav()


def _fifo(tmp_path: Path) -> str:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return str(path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: _write(t / "lie.jpg", b"I am text pretending to be a photo\n"), "text/plain"),
        (lambda t: _write(t / "clip.jpg", mp4(4096)), "video/mp4"),
        (lambda t: _write(t / "zero.jpg", b""), "empty (0 bytes)"),
        (lambda t: _write(t / "broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64), "not a readable"),
        (lambda t: str(t), "a folder, not a file"),
        (_fifo, "not a regular file"),
        (lambda t: "/dev/zero", "not a regular file"),
        (lambda t: str(t / "gone.jpg"), "no file there"),
    ],
)
def test_bad_files_are_one_clear_line_and_nothing_is_saved(
    ws_home: Path, tmp_path: Path, make, message: str
) -> None:
    target = make(tmp_path)
    result = run("capture", "photo", "--answers", str(answers_file(tmp_path, photo=target)))
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: ") and message in line, line
    assert "photo" in line and "Traceback" not in result.output
    assert str(tmp_path) not in line  # the path is never repeated
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        assert ws.records.list() == []


def test_a_file_over_the_questions_limit(ws_home: Path, tmp_path: Path, photo: Path) -> None:
    big = _write(tmp_path / "notes.txt", b"x" * (1024 * 1024 + 1))
    path = answers_file(tmp_path, photo=str(photo), paper=big)
    result = run("capture", "photo", "--answers", str(path))
    assert result.exit_code == 1
    assert "larger than the limit of 1 MB" in result.output
    assert "paper" in result.output


def test_a_text_file_is_named_by_its_content_not_its_name(
    ws_home: Path, tmp_path: Path, photo: Path
) -> None:
    notes = _write(tmp_path / f"notes of {CANARY}.doc", b"plain notes\n")
    path = answers_file(tmp_path, photo=str(photo), paper=notes)
    result = run("capture", "photo", "--answers", str(path))
    assert result.exit_code == 0, result.output
    answers, _ = stored(ws_home)
    assert answers["/data/paper"].endswith(".txt") and CANARY not in answers["/data/paper"]


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_workspace_chunks_are_the_sealed_chunk_size() -> None:
    from fieldkit.crypto.attachment import CHUNK_SIZE as sealed
    from fieldkit.media._intake import CHUNK_SIZE as stored

    assert stored == sealed
