"""CSV, XLSX and Parquet files: formula cells neutralised, Excel-safe sheet names, exact values."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from _analysis_kit import FORMS, definition, receive

from fieldkit.analysis import ExportOptions, excel_sheet_names, neutralise, tables, write_tables
from fieldkit.analysis.export import export_form
from fieldkit.errors import ExportError
from fieldkit.store import Workspace

HOSTILE = {
    '=HYPERLINK("http://evil","x")': '\'=HYPERLINK("http://evil","x")',
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(A1:A2)": "'@SUM(A1:A2)",
    "\tlead tab": "'\tlead tab",
    "\rlead return": "'\rlead return",
    "-3": "-3",  # a number: a spreadsheet reads it as -3 and runs nothing
    "+4.5": "+4.5",
    "plain = text": "plain = text",
}


@pytest.fixture
def formulas(ws: Workspace) -> list[str]:
    ws.forms.add(definition(FORMS / "formulas.md"))
    ids = []
    for n, text in enumerate(HOSTILE):
        ids.append(
            receive(
                ws,
                "formulas",
                {
                    "/data/remarks": text,
                    "/data/age": "-3",
                    "/data/balance": "-1.25",
                    "/data/g1/item[1]/what": text,
                    "/data/formulas[1]/y": str(n),
                },
                day=f"2026-03-{n + 1:02d}",
            )
        )
    return ids


def test_neutralise_rules() -> None:
    for raw, safe in HOSTILE.items():
        assert neutralise(raw) == safe, raw
    assert neutralise("") == ""
    assert neutralise("'=already quoted") == "'=already quoted"


def test_csv_cells_and_headers_neutralised(
    ws: Workspace, formulas: list[str], tmp_path: Path
) -> None:
    result = export_form(
        ws, "formulas", fmt="csv", out_dir=tmp_path / "out", options=ExportOptions(headers="labels")
    )
    # ODK Central's names: FORM.csv, FORM-REPEAT.csv; then the codebook and the manifest.
    assert {p.name for p in result.files} == {
        "formulas.csv",
        "formulas-item.csv",
        "formulas-g2_ITEM.csv",
        "formulas-formulas_2.csv",
        "formulas-a_very_long_repeat_group_name_number_one.csv",
        "formulas-a_very_long_repeat_group_name_number_two.csv",
        "formulas.codebook.csv",
        "formulas.manifest.json",
    }
    with (tmp_path / "out" / "formulas.csv").open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    header, body = table[0], table[1:]
    # The label of `remarks` is itself a formula: headers are neutralised too.
    assert header[0] == '\'=HYPERLINK("http://x")'
    assert [row[0] for row in body] == list(HOSTILE.values())
    assert {row[1] for row in body} == {"-3"}  # integer column: a plain number
    assert {row[2] for row in body} == {"-1.25"}
    with (tmp_path / "out" / "formulas-item.csv").open(encoding="utf-8-sig", newline="") as fh:
        items = list(csv.DictReader(fh))
    assert [row["What"] for row in items] == list(HOSTILE.values())


def test_xlsx_never_holds_a_formula(ws: Workspace, formulas: list[str], tmp_path: Path) -> None:
    result = export_form(ws, "formulas", fmt="xlsx", out_dir=tmp_path)
    assert [p.name for p in result.files] == [
        "formulas.xlsx",
        "formulas.codebook.csv",
        "formulas.manifest.json",
    ]
    book = openpyxl.load_workbook(tmp_path / "formulas.xlsx")
    assert book.sheetnames == [
        "formulas",
        "item",
        "g2_ITEM",
        "formulas_2",
        "a_very_long_repeat_group_name_n",
        "a_very_long_repeat_group_name~2",
        "index",  # names were cut to 31 characters: which table is on which sheet
    ]
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
    main = book["formulas"]
    header = [c.value for c in main[1]]
    assert header[:3] == ["remarks", "age", "balance"]
    remarks = [main.cell(row=i + 2, column=1).value for i in range(len(HOSTILE))]
    # Typed string cells: a spreadsheet never runs them, so nothing is prefixed or changed.
    assert remarks == list(HOSTILE)
    assert all(main.cell(row=i + 2, column=1).data_type == "s" for i in range(len(HOSTILE)))
    # Genuine numbers stay numbers in a spreadsheet.
    assert main.cell(row=2, column=2).value == -3
    assert main.cell(row=2, column=3).value == -1.25
    assert isinstance(main.cell(row=2, column=2).value, int)
    index = [[c.value for c in row] for row in book["index"].iter_rows()]
    assert index[0] == ["table", "sheet", "parent_table", "parent_sheet", "rows"]
    long_one = next(r for r in index if r[0] == "a_very_long_repeat_group_name_number_two")
    assert long_one[1] == "a_very_long_repeat_group_name~2"
    # _parent_table names the parent's sheet, which exists.
    child = [s for s in book.worksheets if s.title != "index"]
    for sheet in child:
        head = [c.value for c in sheet[1]]
        if "_parent_table" in head and sheet.max_row > 1:
            parent = sheet.cell(row=2, column=head.index("_parent_table") + 1).value
            assert parent in book.sheetnames


def test_excel_sheet_names() -> None:
    names = excel_sheet_names(
        [
            "x" * 40,
            "x" * 35,
            "bad[]:*?/\\name",
            "Bad[]:*?/\\Name",
            "history",
            "'quoted'",
            "",
        ]
    )
    assert names == [
        "x" * 31,
        "x" * 29 + "~2",
        "bad_______name",
        "Bad_______Name~2",
        "History_",
        "quoted",
        "Sheet",
    ]
    assert all(len(n) <= 31 for n in names)
    assert len({n.lower() for n in names}) == len(names)


def test_parquet_keeps_values_and_types(ws: Workspace, formulas: list[str], tmp_path: Path) -> None:
    frames = tables(ws, "formulas")
    export_form(ws, "formulas", fmt="parquet", out_dir=tmp_path)
    back = pd.read_parquet(tmp_path / "formulas.parquet")
    # Parquet is read by programs, not spreadsheets: values are kept exactly.
    assert list(back["remarks"]) == list(HOSTILE)
    assert str(back["age"].dtype) == "Int64"
    assert str(back["balance"].dtype) == "Float64"
    # A day is a Parquet DATE (pandas reads it as datetime.date); the rest round-trips.
    assert list(back["_capture_day"]) == [d.date() for d in frames["formulas"]["_capture_day"]]
    same = [c for c in back.columns if c != "_capture_day"]
    pd.testing.assert_frame_equal(back[same], frames["formulas"][same], check_dtype=False)
    item = pd.read_parquet(tmp_path / "formulas-item.parquet")
    assert list(item["_parent_index"]) == list(range(1, len(HOSTILE) + 1))


def test_file_names_hold_no_answer_text(ws: Workspace, tmp_path: Path) -> None:
    ws.forms.add(definition(FORMS / "household_v2.md"))
    receive(
        ws,
        "household",
        {"/data/full_name": "Zed Canary", "/data/household/member[1]/m_age": "4"},
        version="2",
    )
    # The exact files, not only a check on whatever files there are: an export that wrote
    # nothing would pass a loop over an empty folder.
    expected = {
        "csv": [
            "household-member.csv",
            "household-visit.csv",
            "household.codebook.csv",
            "household.csv",
            "household.manifest.json",
        ],
        "xlsx": ["household.codebook.csv", "household.manifest.json", "household.xlsx"],
        "parquet": [
            "household-member.parquet",
            "household-visit.parquet",
            "household.codebook.csv",
            "household.manifest.json",
            "household.parquet",
        ],
    }
    for fmt, names in expected.items():
        out = tmp_path / fmt
        export_form(
            ws,
            "household",
            fmt=fmt,
            out_dir=out,
            options=ExportOptions(include_sensitive=["full_name"]),
        )
        assert sorted(path.name for path in out.iterdir()) == names
        assert not any("Canary" in path.name for path in out.iterdir())
    # The answer did go into the files (so the names were chosen without it, not without data).
    assert "Zed Canary" in (tmp_path / "csv" / "household.csv").read_text(encoding="utf-8-sig")


def test_empty_form_exports_headers_only(ws: Workspace, tmp_path: Path) -> None:
    ws.forms.add(definition(FORMS / "household_v2.md"))
    export_form(ws, "household", fmt="csv", out_dir=tmp_path)
    text = (tmp_path / "household-visit.csv").read_bytes().decode("utf-8-sig")
    assert text == "v_date,_index,_parent_index,_parent_table,_record_id,_key,_parent_key\r\n"
    export_form(
        ws, "household", fmt="xlsx", out_dir=tmp_path, options=ExportOptions(overwrite=True)
    )
    book = openpyxl.load_workbook(tmp_path / "household.xlsx")
    assert book.sheetnames == ["household", "member", "visit"]
    assert book["visit"].max_row == 1


def test_progress_reports_records_then_rows(
    ws: Workspace, formulas: list[str], tmp_path: Path
) -> None:
    seen: list[tuple[str, int, int]] = []
    export_form(ws, "formulas", fmt="csv", out_dir=tmp_path, progress=lambda *a: seen.append(a))
    assert seen[0][0] == "records"
    assert ("records", len(HOSTILE), len(HOSTILE)) in seen
    rows = [s for s in seen if s[0] == "rows"]
    assert rows[-1][1] == rows[-1][2] == len(HOSTILE) * 3  # form, item, formulas_2 rows


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        write_tables({}, out_dir=tmp_path, fmt="ods", workbook_name="x")  # type: ignore[arg-type]
