"""Every XLSForm of pyxform's own test corpus loads or is refused with a FormError.

The corpus is part of the repository (tests/forms/corpus/pyxform, BSD-2-Clause, SOURCE.md).
The table below is the recorded expectation under pyxform 4.5.0: the files fieldkit refuses,
each with a fragment of the message. Every other file must load into a Form and run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldkit.errors import FormError
from fieldkit.forms import FormSession, check_form, load_form

CORPUS = Path(__file__).with_name("corpus") / "pyxform" / "tests"  # see its SOURCE.md

REFUSED: dict[str, str] = {
    # the CSV of its select_one_from_file is not in the corpus
    "bug_example_xls/UCL_Biomass_Plot_Form.xlsx": "UCL_regions.csv not found beside the form",
    # deliberately broken calculations: fieldkit's own expression check
    "bug_example_xls/bad_calc.xlsx": "calculation of 'badcalc'",
    "example_xls/bad_calc.xlsx": "calculation of 'badcalc'",
    # choice_filter "label::English != ''" is not XPath (ODK Validate refuses it too)
    "bug_example_xls/xl_date_ambiguous.xlsx": "choice filter of 'names'",
    # refused by pyxform's parser
    "bug_example_xls/calculate_without_calculation.xls": "Missing calculation",
    "bug_example_xls/duplicate_columns.xlsx": "Duplicate column header",
    "bug_example_xls/group_name_test.xls": "no name",
    "example_xls/fruits.csv": "sheet named 'survey'",
    "example_xls/unknown_question_type.xls": "different names for the same column",
    # refused by pyxform's XForm build
    "example_xls/gps.csv": "no label or hint",
    "example_xls/include.csv": "include",
    "example_xls/include.md": "include",
    "example_xls/include.xls": "include",
    "example_xls/include.xlsx": "include",
    "example_xls/include_json.csv": "include",
    "example_xls/include_json.md": "include",
    "example_xls/include_json.xls": "include",
    "example_xls/include_json.xlsx": "include",
}

FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())

pytestmark = pytest.mark.parity


def test_corpus_is_complete() -> None:
    assert len(FILES) == 79
    names = {str(p.relative_to(CORPUS)) for p in FILES}
    assert set(REFUSED) <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file(path: Path) -> None:
    key = str(path.relative_to(CORPUS))
    report = check_form(path)
    if key in REFUSED:
        assert not report.ok
        assert any(REFUSED[key] in str(e) for e in report.errors), report.errors
        with pytest.raises(FormError):
            load_form(path)
        return
    assert report.ok, report.errors
    form = report.form
    assert form is not None
    session = FormSession(form)
    assert all(state.path.startswith(f"/{form.root}/") for state in session.nodes())
    session.submission()
