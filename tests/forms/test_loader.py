"""Loading: settings, types, columns, languages; hostile files refused, never crashing."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from fieldkit.errors import ExpressionError, FormError
from fieldkit.forms import Form, FormSession, check_form, load_form

FULL = """
| survey |
| | type | name | label::English (en) | label::French (fr) | hint::English (en) | required | relevant | constraint | constraint_message::English (en) | constraint_message::French (fr) | calculation | default | read_only | appearance | parameters | sensitive | choice_filter | repeat_count | required_message::English (en) |
| | start | start | | | | | | | | | | | | | | | | | |
| | end | end | | | | | | | | | | | | | | | | | |
| | today | today | | | | | | | | | | | | | | | | | |
| | deviceid | deviceid | | | | | | | | | | | | | | | | | |
| | username | username | | | | | | | | | | | | | | | | | |
| | audit | audit | | | | | | | | | | | | | | | | | |
| | text | name | Name | Nom | Full name | yes | | | | | | | | | | yes | | | Name needed |
| | integer | age | Age | Âge | | yes | | . >= 0 and . < 130 | Bad age | Âge invalide | | | | | | | | | |
| | decimal | income | Income | Revenu | | | ${age} >= 18 | | | | | | | | | | | | |
| | range | score | Score | Note | | | | | | | | | | | start=0 end=10 step=2 | | | | |
| | select_one yn | ok | OK? | OK? | | | | | | | | | | minimal | | | | | |
| | select_multiple col | colors | Colors | Couleurs | | | | | | | | | | | | | name != 'x' | | |
| | date | dob | DOB | DDN | | | | | | | | | | | | yes | | | |
| | time | t | Time | Heure | | | | | | | | | | | | | | | |
| | dateTime | dt | When | Quand | | | | | | | | | | | | | | | |
| | geopoint | gp | GPS | GPS | | | | | | | | | | | | yes | | | |
| | image | photo | Photo | Photo | | | | | | | | | | | | | | | |
| | audio | sound | Audio | Audio | | | | | | | | | | | | | | | |
| | video | film | Video | Vidéo | | | | | | | | | | | | | | | |
| | file | doc | File | Fichier | | | | | | | | | | | | | | | |
| | barcode | code | Code | Code | | | | | | | | | | | | | | | |
| | note | n | Age is ${age} | Âge ${age} | | | | | | | | | | | | | | | |
| | acknowledge | ack | Ack | Ack | | | | | | | | | | | | | | | |
| | trigger | trig | Trig | Trig | | | | | | | | | | | | | | | |
| | hidden | h | | | | | | | | | | | | | | | | | |
| | rank col | rk | Rank | Rang | | | | | | | | | | | | | | | |
| | begin_group | g | Group | Groupe | | | ${age} > 0 | | | | | | | field-list | | | | | |
| | text | inner | Inner | Intérieur | | | | | | | | | yes | | | | | | |
| | end_group | | | | | | | | | | | | | | | | | | |
| | begin_repeat | member | Member | Membre | | | | | | | | | | | | | | ${age} | |
| | text | mname | MN | MN | | | | | | | | | | | | | | | |
| | end_repeat | | | | | | | | | | | | | | | | | | |
| | begin_repeat | visit | Visit | Visite | | | | | | | | | | | | | | | |
| | integer | day | Day | Jour | | | | | | | | 3 | | | | | | | |
| | end_repeat | | | | | | | | | | | | | | | | | | |
| | calculate | total | | | | | | | | | count(${member}) | | | | | | | | |
| | select_one_from_file things.csv | th | Thing | Chose | | | | | | | | | | | | | | | |
| choices |
| | list_name | name | label::English (en) | label::French (fr) |
| | yn | yes | Yes | Oui |
| | yn | no | No | Non |
| | col | red | Red | Rouge |
| | col | x | X | X |
| settings |
| | form_id | version | form_title | default_language | instance_name | name | requires_consent |
| | screening | 2026.1 | Screening | English (en) | concat('s-', ${age}) | record | yes |
"""  # noqa: E501


@pytest.fixture
def full(tmp_path: Path) -> Form:
    (tmp_path / "things.csv").write_text("name,label\nt1,Thing 1\nt2,Thing 2\n", encoding="utf-8")
    (tmp_path / "full.md").write_text(FULL, encoding="utf-8")
    return load_form(tmp_path / "full.md")


def test_settings(full: Form) -> None:
    assert full.id == "screening"
    assert full.version == "2026.1"
    assert full.title == "Screening"
    assert full.root == "record"
    assert full.default_language == "English (en)"
    assert full.languages == ["English (en)", "French (fr)"]
    assert full.requires_consent is True
    assert full.settings["requires_consent"] == "yes"


def test_every_type_and_column(full: Form) -> None:
    types = {n.name: n.type for n in full.nodes()}
    assert types["score"] == "range"
    assert types["colors"] == "select_multiple"
    assert types["photo"] == "image"
    assert types["rk"] == "rank"
    assert types["member"] == "repeat"
    assert types["th"] == "select_one"
    name = full.node("/record/name")
    assert name.sensitive and name.required == "true()"
    assert name.label("French (fr)") == "Nom" and name.hint() == "Full name"
    assert name.required_message() == "Name needed"
    age = full.node("age")
    assert age.constraint_message("French (fr)") == "Âge invalide"
    assert age.row == 9
    assert full.node("dob").sensitive and full.node("gp").sensitive
    assert not full.node("age").sensitive
    assert full.node("ok").appearance == "minimal"
    assert full.node("score").parameters == {"start": "0", "end": "10", "step": "2"}
    assert [c.name for c in full.node("th").choices] == ["t1", "t2"]
    assert full.node("th").choices[0].label() == "Thing 1"
    assert full.node("mname").repeat == "/record/member"
    assert full.node("member").repeat_count == "${age}"


def test_definition_round_trip_without_pyxform(full: Form) -> None:
    text = json.dumps(full.definition)
    again = Form.from_definition(json.loads(text))
    assert [n.path for n in again.nodes()] == [n.path for n in full.nodes()]
    assert [c.name for c in again.node("th").choices] == ["t1", "t2"]
    assert again.node("age").row == 9


def test_from_definition_does_not_import_pyxform(full: Form, tmp_path: Path) -> None:
    import subprocess
    import sys

    stored = tmp_path / "def.json"
    stored.write_text(json.dumps(full.definition), encoding="utf-8")
    code = (
        "import json, sys, time; t = time.perf_counter();"
        "from fieldkit.forms import Form, FormSession;"
        f"f = Form.from_definition(json.load(open({str(stored)!r})));"
        "s = FormSession(f); s.questions();"
        "print('pyxform' in sys.modules, 'openpyxl' in sys.modules, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pyxform, openpyxl_loaded, seconds = out.stdout.split()
    assert pyxform == "False" and openpyxl_loaded == "False"
    assert float(seconds) < 0.6


def test_metadata_and_instance_id(full: Form) -> None:
    from datetime import UTC, datetime

    session = FormSession(full, now=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    answers = session.answers()
    assert answers["/record/start"] == "2026-03-01T09:30:00.000+00:00"
    assert answers["/record/today"] == "2026-03-01"
    assert answers["/record/meta/instanceID"].startswith("uuid:")
    assert len(answers["/record/meta/instanceID"]) == 41
    assert answers["/record/meta/audit"] == ""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows", "column", "fragment"),
    [
        ("| | integer | a | A | ${nothere} > 1 |", "relevant", "nothere"),
        ("| | integer | a | A | frobnicate(1) |", "relevant", "frobnicate"),
        ("| | integer | a | A | 1 + + |", "relevant", "relevant of 'a'"),
    ],
)
def test_expression_errors_name_sheet_row_column(
    tmp_path: Path, rows: str, column: str, fragment: str
) -> None:
    text = f"| survey |\n| | type | name | label | relevant |\n| | text | first | F | |\n{rows}\n"
    with pytest.raises(FormError) as info:
        load_form(_write(tmp_path, "f.md", text))
    error = info.value
    assert (error.sheet, error.row, error.column) == ("survey", 3, column)
    assert fragment in str(error)


def test_repeat_used_where_one_value_is_needed(tmp_path: Path) -> None:
    text = (
        "| survey |\n| | type | name | label | relevant | calculation |\n"
        "| | begin_repeat | member | M | | |\n| | integer | age | Age | | |\n"
        "| | calculate | inside | | | ${age} + 1 |\n| | end_repeat | | | | |\n"
        "| | calculate | total | | | sum(${age}) |\n| | text | x | X | ${age} > 18 | |\n"
    )
    report = check_form(_write(tmp_path, "f.md", text))
    assert [(e.row, e.column) for e in report.errors] == [(7, "relevant")]
    assert "inside repeat 'member'" in str(report.errors[0])


def test_all_expression_errors_are_reported(tmp_path: Path) -> None:
    text = (
        "| survey |\n| | type | name | label | relevant | constraint |\n"
        "| | integer | a | A | nofunc(1) > 1 | |\n| | integer | b | B | | bad( |\n"
    )
    report = check_form(_write(tmp_path, "f.md", text))
    assert all(isinstance(e, ExpressionError) for e in report.errors)
    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [(2, "relevant"), (3, "constraint")]


def test_cycle_refused(tmp_path: Path) -> None:
    text = (
        "| survey |\n| | type | name | label | calculation |\n"
        "| | calculate | a | | ${b} + 1 |\n| | calculate | b | | ${a} + 1 |\n"
    )
    with pytest.raises(FormError, match="circle"):
        load_form(_write(tmp_path, "f.md", text))


def test_self_referencing_calculation_refused(tmp_path: Path) -> None:
    text = "| survey |\n| | type | name | label | calculation |\n| | calculate | a | | ${a} + 1 |\n"
    with pytest.raises(FormError, match="circle"):
        load_form(_write(tmp_path, "f.md", text))


def test_pyxform_refusal_keeps_its_row(tmp_path: Path) -> None:
    text = "| survey |\n| | type | name | label |\n| | text | a | A |\n| | integer | | B |\n"
    with pytest.raises(FormError) as info:
        load_form(_write(tmp_path, "f.md", text))
    assert info.value.row == 3


def test_missing_select_list(tmp_path: Path) -> None:
    text = "| survey |\n| | type | name | label |\n| | select_one nolist | a | A |\n"
    with pytest.raises(FormError):
        load_form(_write(tmp_path, "f.md", text))


# ------------------------------------------------------------------ hostile files


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(FormError, match="not an XLSForm file type"):
        load_form(_write(tmp_path, "f.txt", "hello"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FormError):
        load_form(tmp_path / "absent.xlsx")


def test_non_utf8_csv(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("survey,type,name,label\n,text,a,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(FormError, match="UTF-8"):
        load_form(path)


def test_garbage_xlsx_and_xls(tmp_path: Path) -> None:
    (tmp_path / "a.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "b.xls").write_bytes(b"\xd0\xcf\x11\xe0 garbage" * 10)
    (tmp_path / "c.md").write_bytes(b"\x00\x01\x02")
    for name in ("a.xlsx", "b.xls", "c.md"):
        with pytest.raises(FormError):
            load_form(tmp_path / name)


def test_huge_file_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as out:
        out.truncate(25 * 1024 * 1024)
    start = time.perf_counter()
    with pytest.raises(FormError, match="too large"):
        load_form(path)
    assert time.perf_counter() - start < 1


def _xlsx(path: Path, rows: list[list[object]]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "survey"
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def test_zip_bomb_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.xlsx"
    _xlsx(good, [["type", "name", "label"], ["text", "a", "A"]])
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        with dst.open("xl/media/padding.bin", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(200):
                member.write(chunk)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(FormError, match="unsafe size"):
        load_form(bomb)


def test_formulas_are_read_never_evaluated(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    _xlsx(
        path,
        [
            ["type", "name", "label"],
            ["text", "a", '=HYPERLINK("http://example.invalid","click")'],
            ["text", "b", "=1+1"],
        ],
    )
    form = load_form(path)
    # openpyxl wrote no cached value: the formula text is the label, nothing was computed.
    assert form.node("a").label() == '=HYPERLINK("http://example.invalid","click")'
    assert form.node("b").label() == "=1+1"


def test_xlsm_macros_never_run(tmp_path: Path) -> None:
    path = tmp_path / "m.xlsm"
    _xlsx(tmp_path / "base.xlsx", [["type", "name", "label"], ["text", "a", "A"]])
    with zipfile.ZipFile(tmp_path / "base.xlsx") as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("xl/vbaProject.bin", b'Attribute VB_Name = "Module1"\nSub Auto_Open()\n')
    form = load_form(path)
    assert [n.name for n in form.nodes()][:1] == ["a"]


def test_corrupt_definition_refused() -> None:
    with pytest.raises(FormError):
        Form.from_definition({"no": "children"})


def test_sensitive_helpers(md_form: Callable[[str], Form]) -> None:
    form = md_form(
        "| survey |\n| | type | name | label | sensitive |\n| | text | a | A | TRUE |\n"
        "| | text | b | B | 1 |\n| | text | c | C | no |\n"
    )
    assert [n.sensitive for n in form.nodes() if n.kind == "question"] == [True, True, False]


def test_bytes_io_unused() -> None:
    assert io.BytesIO  # the module is imported for the fixtures above
