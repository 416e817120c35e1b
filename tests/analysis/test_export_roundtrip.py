"""Round trips: whatever text was captured comes back from CSV and Parquet, cell for cell."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
from _analysis_kit import FORMS, definition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.analysis import ExportOptions, build_tables, neutralise, write_tables
from fieldkit.analysis._columns import _numeric
from fieldkit.forms import Form
from fieldkit.store import Record

FORM = Form.from_definition(definition(FORMS / "household_v2.md"))
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=30,
)


def record(n: int, answers: dict[str, str]) -> Record:
    return Record(
        id=f"00000000-0000-4000-8000-{n:012d}",
        form_id="household",
        form_version="2",
        status="finalized",
        replaces=None,
        case_id=None,
        created_at="2026-03-01T10:00:00.000Z",
        updated_at="2026-03-01T10:00:00.000Z",
        finalized_at="2026-03-01T10:00:00.000Z",
        answers=answers,
        origin="received",
        device="dev-1",
        capture_day="2026-03-01",
        hlc=None,
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    remarks=st.lists(TEXT, min_size=1, max_size=5),
    ages=st.lists(st.integers(-(2**31), 2**31), min_size=1, max_size=5),
    roles=st.lists(TEXT, min_size=0, max_size=3),
)
def test_csv_and_parquet_give_back_the_captured_text(
    tmp_path: Path, remarks: list[str], ages: list[int], roles: list[str]
) -> None:
    records = []
    for n, text in enumerate(remarks):
        answers = {"/data/remarks": text, "/data/age": str(ages[n % len(ages)])}
        for m, role in enumerate(roles, 1):
            answers[f"/data/household/member[{m}]/visit[1]/v_date"] = role
        records.append(record(n, answers))
    frames = build_tables([FORM], records)
    out = tmp_path / f"x{abs(hash((tuple(remarks), tuple(ages), tuple(roles))))}"
    write_tables(frames, out_dir=out, fmt="csv", workbook_name="household")
    raw = (out / "household.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert [row["remarks"] for row in rows] == [neutralise(t) for t in remarks]
    assert [int(row["age"]) for row in rows] == [ages[n % len(ages)] for n in range(len(remarks))]
    visits = list(csv.DictReader(io.StringIO(
        (out / "household-visit.csv").read_bytes().decode("utf-8-sig"), newline="")))  # fmt: skip
    assert [row["v_date"] for row in visits] == [neutralise(r) for r in roles] * len(remarks)
    write_tables(frames, out_dir=out, fmt="parquet", workbook_name="household")
    assert list(pd.read_parquet(out / "household-visit.parquet")["v_date"]) == roles * len(remarks)
    back = pd.read_parquet(out / "household.parquet")
    assert list(back["remarks"]) == remarks
    assert list(back["age"]) == [ages[n % len(ages)] for n in range(len(remarks))]
    # Without the guard, CSV holds the text exactly as captured.
    write_tables(frames, out_dir=out, fmt="csv", workbook_name="household",
                 options=ExportOptions(neutralise_csv=False, overwrite=True))  # fmt: skip
    raw = (out / "household.csv").read_bytes().decode("utf-8-sig")
    exact = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert [row["remarks"] for row in exact] == remarks


def test_a_number_column_with_one_unreadable_value_stays_text() -> None:
    blanks = _numeric(["1", "", "2"], "integer")
    assert str(blanks.dtype) == "Int64" and blanks.isna().tolist() == [False, True, False]
    kept = _numeric(["1", "two", "3"], "integer")
    assert kept.tolist() == ["1", "two", "3"]
    assert _numeric(["1.5", "2"], "integer").tolist() == ["1.5", "2"]
    assert str(_numeric(["1.5", "-2"], "decimal").dtype) == "Float64"
    assert _numeric(["nan", "1"], "decimal").tolist() == ["nan", "1"]
    assert _numeric(["1.0", "3"], "integer").tolist() == [1, 3]
