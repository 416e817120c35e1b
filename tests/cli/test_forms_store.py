"""`fieldkit forms add FILE|NAME` and `fieldkit forms list [--json]` on a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fieldkit.cli import app
from fieldkit.store import create_workspace, open_workspace

FORMS = Path(__file__).resolve().parent.parent / "capture" / "forms"
PASSPHRASE = "forms store tests correct horse"


@pytest.fixture
def ws_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    ws.close()
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("COLUMNS", "160")
    return home


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_add_file_then_list(ws_home: Path) -> None:
    assert "No forms yet" in run("forms", "list").output
    assert json.loads(run("forms", "list", "--json").stdout) == []
    result = run("forms", "add", str(FORMS / "household.md"))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Added form household version 1"
    table = run("forms", "list")
    assert "household" in table.output and "Household visit" in table.output
    listed = json.loads(run("forms", "list", "--json").stdout)
    assert [(f["form_id"], f["version"], f["title"]) for f in listed] == [
        ("household", "1", "Household visit")
    ]
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        stored = ws.forms.get("household")
        assert stored.form().title == "Household visit"


def test_adding_the_same_form_twice_is_a_no_op(ws_home: Path) -> None:
    assert run("forms", "add", str(FORMS / "members.md")).exit_code == 0
    assert run("forms", "add", str(FORMS / "members.md")).exit_code == 0
    assert len(json.loads(run("forms", "list", "--json").stdout)) == 1


def test_a_new_version_is_listed_beside_the_old(ws_home: Path, tmp_path: Path) -> None:
    text = (FORMS / "members.md").read_text(encoding="utf-8")
    newer = tmp_path / "members_v2.md"
    newer.write_text(text.replace("| | members | 1 |", "| | members | 2 |"), encoding="utf-8")
    assert run("forms", "add", str(FORMS / "members.md")).exit_code == 0
    assert run("forms", "add", str(newer)).exit_code == 0
    versions = sorted(f["version"] for f in json.loads(run("forms", "list", "--json").stdout))
    assert versions == ["1", "2"]


def test_bundled_form_by_name(ws_home: Path) -> None:
    result = run("forms", "add", "consent")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Added form consent version ")
    assert [f["form_id"] for f in json.loads(run("forms", "list", "--json").stdout)] == ["consent"]


def test_unknown_bundled_name_and_missing_file(ws_home: Path) -> None:
    result = run("forms", "add", "no_such_form")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no bundled form named 'no_such_form'")
    result = run("forms", "add", "missing/household.md")
    assert result.exit_code == 1
    assert result.output.startswith("Error:") and result.output.count("\n") == 1


def test_a_guides_path_outside_the_repository_names_the_bundled_form(
    ws_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`forms/consent.md` exists only at the repository's root: elsewhere every command that
    takes a form file says that the bundled name works (publish before any passphrase)."""
    monkeypatch.chdir(tmp_path)
    line = "consent.md: no such file here; the bundled form is `consent`"
    for command in ("add", "publish", "show"):
        result = run("forms", command, "forms/consent.md")
        assert result.exit_code == 1, (command, result.output)
        assert result.output == f"Error: {line}\n", command
    result = run("forms", "validate", "forms/consent.md")
    assert result.exit_code == 1 and result.output == f"ERROR {line}\n"
    monkeypatch.delenv("FIELDKIT_PASSPHRASE")
    result = run("--home", str(tmp_path / "none"), "forms", "publish", "referral.xlsx")
    assert result.output.startswith("Error: referral.xlsx: no such file here; the bundled form")


def test_an_invalid_form_is_refused_with_its_location(ws_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(
        "| survey |\n| | type | name | label | relevant |\n"
        "| | integer | age | Age | ${nope} > 3 |\n"
        "| settings |\n| | form_id |\n| | bad |\n",
        encoding="utf-8",
    )
    result = run("forms", "add", str(bad))
    assert result.exit_code == 1
    assert result.output.startswith("Error:")
    assert "survey" in result.output
    assert json.loads(run("forms", "list", "--json").stdout) == []


def test_list_json_prints_only_json(ws_home: Path) -> None:
    run("forms", "add", str(FORMS / "consent.md"))
    result = run("forms", "list", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data[0]) >= {"form_id", "version", "title"}
