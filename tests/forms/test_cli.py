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


PASSPHRASE = "correct horse battery staple"
LONG_ID = "household_needs_assessment_coastal_region_2026"
UNVERSIONED = f"""\
| survey |
| | type | name | label::English (en) | label::Kiswahili (sw) | label::Français (fr) | required |
| | text | a | A | A | A | yes |
| | text | b | B | B | B | ${{a}} != '' |
| settings |
| | form_id | form_title |
| | {LONG_ID} | Needs |
"""  # noqa: E501


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_show_header_in_full_on_a_narrow_terminal(tmp_path: Path) -> None:
    path = tmp_path / "f.md"
    path.write_text(UNVERSIONED, encoding="utf-8")
    result = CliRunner().invoke(app, ["forms", "show", str(path)], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert "languages: English (en), Kiswahili (sw), Français (fr)" in out
    assert LONG_ID in result.stdout
    assert "(from its content: the settings sheet gives none)" in out
    # A plain "yes" is shown as yes, an expression as written.
    assert "required: yes" in out and "required: ${a} != ''" in out
    assert "true()" not in out


def test_add_unversioned_and_list_keeps_ids_whole(tmp_path: Path, home: Path) -> None:
    store = pytest.importorskip("fieldkit.store")
    store.create_workspace(home, passphrase=PASSPHRASE)[0].close()
    path = tmp_path / "f.md"
    path.write_text(UNVERSIONED, encoding="utf-8")
    env = {"FIELDKIT_PASSPHRASE": PASSPHRASE}
    added = CliRunner().invoke(app, ["forms", "add", str(path)], env=env)
    assert added.exit_code == 0, added.output
    assert f"Added form {LONG_ID} version content-" in added.stdout
    assert "(from its content: the settings sheet gives no version)" in added.stdout
    again = CliRunner().invoke(app, ["forms", "add", str(path)], env=env)
    assert again.stdout == added.stdout  # the same file: the same version, nothing new
    for columns in ("40", "80", "200"):
        listed = CliRunner().invoke(app, ["forms", "list"], env={**env, "COLUMNS": columns})
        assert listed.exit_code == 0, listed.output
        assert LONG_ID in listed.stdout, columns
        assert "…" not in listed.stdout
        version = added.stdout.split(" version ")[1].split(" ")[0]
        assert version in listed.stdout


def test_add_missing_file_names_the_bundled_forms(home: Path) -> None:
    result = CliRunner().invoke(app, ["forms", "add", "nothere.xlsx"])
    assert result.exit_code != 0
    assert "Error: nothere.xlsx: no such file; a bundled form is named without a path:" in (
        result.stderr
    )
    assert "consent" in result.stderr and "Traceback" not in result.output


def _validate(path: Path, text: str) -> tuple[int, str]:
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["forms", "validate", str(path)])
    return result.exit_code, result.stdout.strip()


def test_validate_names_the_survey_sheet_for_a_missing_list(tmp_path: Path) -> None:
    code, out = _validate(
        tmp_path / "f.md",
        "| survey |\n| | type | name | label |\n| | text | x | X |\n"
        "| | select_one yes_no | q | Q |\n"
        "| choices |\n| | list_name | name | label |\n| | other | a | A |\n",
    )
    assert code == 1
    assert out == (
        "ERROR f.md: sheet survey, row 3, column type: "
        "choice list 'yes_no' is not on the choices sheet"
    )


def test_validate_missing_file_names_it_once(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["forms", "validate", str(tmp_path / "gone.md")])
    assert result.exit_code == 1
    assert result.stdout.startswith("ERROR gone.md: cannot read the file")


@pytest.mark.parametrize(
    "row",
    [
        "| | text | b | B | ${a} = 'x' | ${a} = 'y' |",  # an XPath union split the cell
        "| | text | b | Yes | no | ${a} = 'x' |",  # a label holding "Yes | no"
    ],
)
def test_markdown_pipe_inside_a_cell(tmp_path: Path, row: str) -> None:
    head = "| survey |\n| | type | name | label | relevant |\n| | text | a | A | |\n"
    code, out = _validate(tmp_path / "f.md", f"{head}{row}\n")
    assert code == 1
    assert out == (
        "ERROR f.md: sheet survey, row 3: the row has more cells than the sheet's header; "
        "a '|' inside a cell must be written '\\|'"
    )
    escaped = row.replace("| ${a} = 'y'", "\\| ${a} = 'y'").replace("| no ", "\\| no ")
    code, out = _validate(tmp_path / "f.md", f"{head}{escaped}\n")
    assert code == 0, out
