"""End to end: the demo's whole flow, with every count checked along the way."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldkit.analysis import build_report
from fieldkit.bundled import FORM_NAMES
from fieldkit.cli import app
from fieldkit.demo import PASSPHRASE_FILE, run_demo
from fieldkit.store import open_workspace


def test_demo_counts_add_up(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    steps: list[str] = []
    result = run_demo(root=root, needs=12, screenings=10, calls=12, seed=7, step=steps.append)

    captured = dict(result.captured)
    total = sum(captured.values())
    assert captured["needs_assessment"] == 12
    assert captured["consent"] == 10
    screened = captured.get("adult_screening", 0) + captured.get("youth_screening", 0)
    assert screened == 10 - result.refused_consent
    # Everything captured went to the server sealed, and came back decrypted, exactly once.
    assert result.pushed == total
    assert result.pulled == total

    passphrase = (root / PASSPHRASE_FILE).read_text().strip()
    with open_workspace(root / "field", passphrase=passphrase) as field_ws:
        records = field_ws.records.list()
        assert len(records) == total
        assert {r.status for r in records} == {"sent"}
    with open_workspace(root / "coordinator", passphrase=passphrase) as coordinator:
        received = coordinator.records.list()
        assert len(received) == total
        assert {r.origin for r in received} == {"received"}

    # One CSV per form (no repeats in the bundled forms), one row per record.
    assert result.export_dir is not None
    for form_id, count in captured.items():
        with (result.export_dir / f"{form_id}.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == count, form_id
        assert result.exported[form_id][next(iter(result.exported[form_id]))] == count

    assert result.report is not None and result.report.is_file()
    html = result.report.read_text(encoding="utf-8")
    assert "<html" in html.lower()
    assert result.indicators > 0
    # Some of each bundled form, so every section of the report has data (issue 19).
    assert set(captured) | set(result.not_saved) == set(FORM_NAMES)
    assert {"hotline_intake", "awareness_session", "training_test"} <= set(captured)
    assert captured["training_test"] == 2 * 2 * 6  # two courses, six trainees, pre and post
    with open_workspace(root / "coordinator", passphrase=passphrase) as coordinator:
        report = build_report(coordinator)
    assert [i.key for i in report.indicators if not i.available] == []
    assert {i.area for i in report.indicators} == {
        "prevention",
        "protection",
        "prosecution",
        "partnership",
    }
    # Invented pseudonyms never reach the published report.
    assert "DM-0001" not in html
    assert any("report written" in s for s in steps)


def test_demo_command_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "busy")])
    assert result.exit_code == 2
    assert "not empty" in result.stderr


def test_the_look_around_lines_run_as_printed_from_where_the_user_stands(tmp_path: Path) -> None:
    """Right after the README's command `fieldkit` is not on PATH: the demo's closing lines
    name the program as it runs from the user's folder, and how to activate its environment."""
    import os
    import subprocess
    import sys

    script = Path(sys.executable).parent / "fieldkit"
    if not script.is_file():
        pytest.skip("fieldkit is not installed as a console script beside this interpreter")
    here = script.parent.parent.parent  # the folder holding the virtual environment
    bare = {**os.environ, "PATH": os.pathsep.join(p for p in ("/usr/bin", "/bin") if p)}
    for name in ("FIELDKIT_HOME", "FIELDKIT_PASSPHRASE", "FIELDKIT_PASSPHRASE_FILE"):
        bare.pop(name, None)
    typed = os.path.relpath(script, here)
    done = subprocess.run(
        [typed, "demo", "--needs", "3", "--screenings", "2", "--out", str(tmp_path / "d")],
        cwd=here,
        env=bare,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    tail = done.stdout.split("Look around", 1)[1].splitlines()[1:]
    commands = [line.strip() for line in tail if line.startswith("  ")]
    assert len(commands) == 2 and all(c.startswith(typed + " ") for c in commands), tail
    activate = next(line for line in tail if line.startswith("(or `source "))
    for command in [*commands, activate.split("`")[1] + " && fieldkit --version"]:
        ran = subprocess.run(
            ["bash", "-c", command], cwd=here, env=bare, capture_output=True, text=True
        )
        assert ran.returncode == 0, (command, ran.stderr)
    assert (tmp_path / "d" / "r.html").is_file()
