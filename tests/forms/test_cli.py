"""The forms engine commands: validate, show, eval (DESIGN §8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldkit.cli import app

FORM = """
| survey |
| | type | name | label::English (en) | label::French (fr) | relevant | constraint | constraint_message::English (en) | constraint_message::French (fr) | required | calculation | sensitive |
| | integer | age | Age | Âge | | . < 130 | Too old | Trop vieux | yes | | |
| | text | job | Job | Métier | ${age} >= 18 | | | | | | yes |
| | select_multiple col | colors | Colors | Couleurs | | | | | | | |
| | begin_repeat | member | Member | Membre | | | | | | | |
| | text | mname | Name | Nom | | | | | | | yes |
| | end_repeat | | | | | | | | | | |
| | calculate | n | | | | | | | | count(${member}) | |
| choices |
| | list_name | name | label::English (en) | label::French (fr) |
| | col | red | Red | Rouge |
| | col | blue | Blue | Bleu |
| settings |
| | form_id | version | default_language |
| | cli_form | 3 | English (en) |
"""  # noqa: E501


@pytest.fixture
def form_file(tmp_path: Path) -> Path:
    path = tmp_path / "form.md"
    path.write_text(FORM, encoding="utf-8")
    return path


def test_validate_ok_and_errors(form_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(
        "| survey |\n| | type | name | label | relevant |\n| | text | a | A | nope( |\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["forms", "validate", str(form_file)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK form.md (cli_form version 3)")
    result = CliRunner().invoke(app, ["forms", "validate", str(form_file), str(bad)])
    assert result.exit_code == 1
    assert "ERROR bad.md: sheet survey, row 2, column relevant:" in result.stdout


def test_show_file(form_file: Path) -> None:
    result = CliRunner().invoke(app, ["forms", "show", str(form_file)])
    assert result.exit_code == 0, result.output
    for text in ("cli_form", "age", "integer", "relevant: ${age} >= 18", "sensitive", "French"):
        assert text in result.stdout


def test_eval_json(form_file: Path, tmp_path: Path) -> None:
    steps = tmp_path / "steps.json"
    steps.write_text(
        json.dumps(
            [
                {"set": "age", "value": "many"},
                {"set": "age", "value": "140"},
                {"set": "colors", "value": "blue red"},
                {"add_repeat": "member", "count": 2},
                {"set": "/data/member[3]/mname", "value": "Z"},
                {"set_language": "French (fr)"},
                {"set": "nothing", "value": "1"},
            ]
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app,
        [
            "forms",
            "eval",
            str(form_file),
            "--steps",
            str(steps),
            "--json",
            "--now",
            "2026-01-01T00:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    nodes = {n["path"]: n for n in out["nodes"]}
    assert list(nodes) == [
        "/data/age",
        "/data/job",
        "/data/colors",
        "/data/member[1]/mname",
        "/data/member[2]/mname",
        "/data/member[3]/mname",
        "/data/n",
    ]
    age = nodes["/data/age"]
    assert set(age) == {
        "path",
        "name",
        "type",
        "value",
        "relevant",
        "required",
        "readonly",
        "constraint_valid",
        "required_empty",
        "valid",
        "constraint_message",
    }
    assert age["value"] == "140" and not age["constraint_valid"] and not age["valid"]
    assert age["constraint_message"] == "Trop vieux"
    assert nodes["/data/job"]["relevant"] is True
    assert nodes["/data/colors"]["value"] == "red blue"
    assert nodes["/data/member[3]/mname"]["value"] == "Z"
    # ODK Web Forms reports a calculate without a readonly bind as not read-only.
    assert nodes["/data/n"]["value"] == "3" and nodes["/data/n"]["readonly"] is False
    assert [e["step"] for e in out["errors"]] == [0, 6]
    assert "not a whole number" in out["errors"][0]["message"]


def test_eval_bad_steps_file(form_file: Path, tmp_path: Path) -> None:
    steps = tmp_path / "steps.json"
    steps.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(app, ["forms", "eval", str(form_file), "--steps", str(steps)])
    assert result.exit_code == 2
    assert "Error:" in result.stderr


def test_show_form_id_from_workspace(form_file: Path, home: Path) -> None:
    store = pytest.importorskip("fieldkit.store")
    from fieldkit.forms import load_form

    workspace, _recovery = store.create_workspace(home, passphrase="correct horse battery staple")
    with workspace as ws:
        ws.forms.add(load_form(form_file).definition)
    result = CliRunner().invoke(
        app,
        ["forms", "show", "cli_form"],
        env={"FIELDKIT_PASSPHRASE": "correct horse battery staple"},
    )
    assert result.exit_code == 0, result.output
    assert "mname" in result.stdout
