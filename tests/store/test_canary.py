"""No file under the workspace holds an answer in the clear, in any common encoding."""

from __future__ import annotations

import base64
import codecs
from pathlib import Path

import pytest
from _store_kit import FORM, PASSPHRASE, reopen

from fieldkit.store import create_workspace

pytestmark = pytest.mark.safety

MARKER = "CANARY-q7Zx93-Tuzo"
V = "2024010101"


def _encodings(marker: str) -> dict[str, bytes]:
    raw = marker.encode()
    forms = {
        "utf-8": raw,
        "utf-8 lower": marker.lower().encode(),
        "utf-16-le": marker.encode("utf-16-le"),
        "utf-16-be": marker.encode("utf-16-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "rot13": codecs.encode(marker, "rot13").encode(),
    }
    # Base64 of the marker at each of the three alignments a surrounding text could give it;
    # the edge characters depend on the neighbours, so keep only the stable middle.
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        forms[f"base64+{shift}"] = encoded[4:-4]
        forms[f"base64url+{shift}"] = base64.urlsafe_b64encode(b"\0" * shift + raw)[4:-4]
    return forms


def _scan(home: Path) -> list[str]:
    found = []
    patterns = _encodings(MARKER)
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {name}" for name, p in patterns.items() if p in data]
    return found


def test_marker_appears_in_no_file(home: Path) -> None:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(FORM)
        kept = []
        for i in range(30):
            record = ws.records.create_draft(form_id="household", form_version=V, case_id=MARKER)
            answers = {"/data/respondent": f"{MARKER} {i}", "/data/site": MARKER * 3}
            ws.records.save_answers(record.id, answers)
            if i % 3 == 0:
                ws.records.finalize(record.id, answers=answers)
                ws.records.set_envelope(record.id, f"not really sealed {i}".encode())
            elif i % 3 == 1:
                ws.records.discard(record.id)
            kept.append(record.id)
        ws.state.set("note", MARKER)
        # While open: the WAL and shared-memory files hold the latest pages.
        assert (home / "workspace.db-wal").exists()
        assert _scan(home) == []
    assert _scan(home) == []
    with reopen(home) as again:
        assert any(MARKER in r.answers.get("/data/site", "") for r in again.records.list())
    assert _scan(home) == []


def test_the_scan_would_find_a_marker() -> None:
    """The scanner itself works: every encoding is found in a file holding it."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        for name, pattern in _encodings(MARKER).items():
            (home / f"{name}.bin").write_bytes(b"xx" + pattern + b"yy")
        assert len(_scan(home)) >= len(_encodings(MARKER))
    plain = base64.b64encode(b"some text " + MARKER.encode() + b" after")
    assert any(p in plain for p in _encodings(MARKER).values())
