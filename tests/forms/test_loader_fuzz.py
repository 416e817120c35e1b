"""Hypothesis: no form text crashes the loader — every outcome is a Form or FormErrors."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.errors import FormError
from fieldkit.forms import check_form

TYPES = [
    "text", "integer", "decimal", "select_one yn", "select_multiple yn", "begin_group",
    "end_group", "begin_repeat", "end_repeat", "calculate", "note", "date", "range",
    "select_one nolist", "geopoint", "begin loop over yn", "end loop", "rank yn", "", "bogus",
]  # fmt: skip
CELL = st.one_of(
    st.sampled_from(["", "a", "b", "${a}", "${b} > 1", ". < 3", "1 div 0", "concat(", "yes"]),
    st.text(alphabet="ab$(){}[]<>=!.|'\" 0123456789", max_size=12),
)
ROW = st.tuples(st.sampled_from(TYPES), st.sampled_from(["a", "b", "c", "", "1x"]), CELL, CELL)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(ROW, min_size=1, max_size=8), st.booleans())
def test_any_form_text_is_loaded_or_refused(
    tmp_path: Path, rows: list[tuple[str, ...]], with_choices: bool
) -> None:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| survey |", "| | type | name | label | relevant | calculation |"]
    lines += [
        f"| | {cell(row[0])} | {cell(row[1])} | L | {cell(row[2])} | {cell(row[3])} |"
        for row in rows
    ]
    if with_choices:
        lines += ["| choices |", "| | list_name | name | label |", "| | yn | y | Y |"]
    path = tmp_path / "fuzz.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = check_form(path)
    assert all(isinstance(error, FormError) for error in report.errors)
    assert report.ok == (report.form is not None and not report.errors)
