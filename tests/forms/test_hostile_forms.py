"""Hostile forms are refused at load or bounded, each in well under a second (issue 13).

Repeats inside repeats multiply: 60 instances on each of three levels took 131 s before the
record had a size cap. (regex() patterns are in test_regex.py.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from fieldkit.errors import AnswerError, FormError
from fieldkit.forms import Form, FormSession
from fieldkit.forms.instance import MAX_INSTANCE_NODES


@contextmanager
def under_a_second() -> Iterator[None]:
    started = time.perf_counter()
    yield
    assert time.perf_counter() - started < 1.0


def nested(count: str, levels: int = 3, questions: int = 1) -> str:
    rows = ["| survey |", "| | type | name | label | repeat_count |"]
    if "${n}" in count:
        rows.append("| | integer | n | N | |")
    for level in range(levels):
        rows.append(f"| | begin_repeat | r{level} | R{level} | {count} |")
        rows.extend(f"| | text | q{level}_{i} | Q | |" for i in range(questions))
    rows.extend("| | end_repeat | | | |" for _ in range(levels))
    return "\n".join(rows) + "\n"


def test_fixed_nested_counts_are_refused_at_load(md_form: Callable[[str], Form]) -> None:
    with under_a_second(), pytest.raises(FormError) as caught:
        md_form(nested("60"))
    message = str(caught.value)
    assert "sheet survey, row 2, column repeat_count" in message
    assert "repeat 'r0': its fixed repeat counts (60 × 60 × 60)" in message
    assert f"{MAX_INSTANCE_NODES:,}" in message


def test_a_large_single_repeat_still_works(md_form: Callable[[str], Form]) -> None:
    # 1,000 instances of 20 questions: a big roster, within the record's cap.
    form = md_form(nested("1000", levels=1, questions=20))
    with under_a_second():
        session = FormSession(form)
    assert len(session.answers()) > 20_000


def test_counts_from_answers_are_bounded_while_answering(md_form: Callable[[str], Form]) -> None:
    form = md_form(nested("${n}"))
    session = FormSession(form)
    session.set("n", "3")
    before = session.answers()
    with under_a_second(), pytest.raises(AnswerError, match="more than 30,000 fields"):
        session.set("n", "60")
    # The answer is taken back whole: the record is as it was, and still works.
    assert session.answers() == before
    assert session.node("n").value == "3"
    session.set("n", "4")
    assert len([p for p in session.answers() if p.endswith("/q2_0")]) == 64


def test_forms_eval_reports_it_and_goes_on(md_form: Callable[[str], Form]) -> None:
    from fieldkit.forms.steps import evaluate_steps

    form = md_form(nested("${n}"))
    with under_a_second():
        result = evaluate_steps(form, [{"set": "n", "value": "200"}, {"set": "n", "value": "2"}])
    assert [e["step"] for e in result["errors"]] == [0]
    assert len([n for n in result["nodes"] if n["name"] == "q2_0"]) == 8


def test_hand_added_repeats_are_bounded(md_form: Callable[[str], Form]) -> None:
    form = md_form(
        "| survey |\n| | type | name | label |\n| | begin_repeat | r | R |\n"
        + "".join(f"| | text | q{i} | Q |\n" for i in range(40))
        + "| | end_repeat | | |\n"
    )
    session = FormSession(form)
    with under_a_second(), pytest.raises(AnswerError, match="too many repeat instances"):
        for _ in range(2000):
            session.add_repeat("r")


def test_a_hostile_draft_is_bounded(md_form: Callable[[str], Form]) -> None:
    form = md_form(nested("${n}"))
    answers = {
        f"/data/r0[{a}]/r1[{b}]/r2[{c}]/q2_0": "x"
        for a in range(1, 41)
        for b in range(1, 41)
        for c in (1, 40)
    }
    with under_a_second():
        session = FormSession(form, answers=answers)
    assert len(session.answers()) < MAX_INSTANCE_NODES
