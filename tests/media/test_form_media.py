"""Form media (`media::image` in labels) are stored with the form and announced in the
interview, with the command that opens them (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_kit import png_with_text
from typer.testing import CliRunner

from fieldkit.cli import app

FORM = """| survey |
| | type | name | label | media::image | required |
| | text | site | Which site is this? | map.png | yes |

| settings |
| | form_id | version |
| | pictures | 1 |
"""


def test_form_media_are_stored_announced_and_opened(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", "media tests correct horse battery")
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    form = tmp_path / "pictures.md"
    form.write_text(FORM)
    (tmp_path / "pictures-media").mkdir()
    picture = png_with_text()
    (tmp_path / "pictures-media" / "map.png").write_bytes(picture)
    added = runner.invoke(app, ["forms", "add", str(form)])
    assert added.exit_code == 0, added.output
    assert "Stored 1 media file" in added.output
    interview = runner.invoke(app, ["capture", "pictures"], input="S1\nf\n")
    said = " ".join(interview.output.split())
    assert "this question has a picture: open it with" in said
    assert "fieldkit forms media pictures map.png --out PATH" in said
    out = tmp_path / "out"
    out.mkdir()
    opened = runner.invoke(app, ["forms", "media", "pictures", "map.png", "--out", str(out)])
    assert opened.exit_code == 0, opened.output
    assert (out / "map.png").read_bytes() == picture
    unknown = runner.invoke(app, ["forms", "media", "pictures", "x.png", "--out", str(out)])
    assert unknown.exit_code != 0 and "no media file" in unknown.output
