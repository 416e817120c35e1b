"""FormSession: ODK semantics, one rule per test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from fieldkit.errors import AnswerError
from fieldkit.forms import Form, FormSession

Make = Callable[[str], Form]

BASIC = """
| survey |
| | type | name | label | relevant | constraint | constraint_message | required | calculation | default | read_only | choice_filter |
| | integer | age | Age | | . < 130 | Too old | yes | | | | |
| | text | job | Job | ${age} >= 18 | | | yes | | | | |
| | decimal | income | Income | | . >= 0 | Negative | | | | | |
| | calculate | double | | | | | | ${income} * 2 | | | |
| | calculate | ratio | | | | | | 1 div 0 | | | |
| | calculate | nan | | | | | | number('x') | | | |
| | integer | trunc | T | | | | | ${income} | | | |
| | select_multiple col | colors | Colors | | | | | | | | |
| | select_one lvl | level | Level | | | | | | | | |
| | select_one item | thing | Thing | | | | | | | | level = ${level} |
| | text | fixed | Fixed | | | | | | hello | yes | |
| | begin_group | grp | Group | ${age} > 5 | | | | | | | |
| | text | inner | Inner | | | | | | | | |
| | end_group | | | | | | | | | | |
| choices |
| | list_name | name | label | level |
| | col | red | Red | |
| | col | green | Green | |
| | col | blue | Blue | |
| | lvl | a | A | |
| | lvl | b | B | |
| | item | a1 | A1 | a |
| | item | b1 | B1 | b |
"""  # noqa: E501


@pytest.fixture
def basic(md_form: Make) -> FormSession:
    return FormSession(md_form(BASIC))


def test_relevance_and_kept_value(basic: FormSession) -> None:
    basic.set("age", "30")
    basic.set("job", "farmer")
    assert basic.node("job").value == "farmer"
    basic.set("age", "10")
    state = basic.node("job")
    assert not state.relevant and state.value == ""
    assert basic.submission()["/data/job"] == ""
    assert basic.answers()["/data/job"] == "farmer"  # kept, as ODK keeps it
    basic.set("age", "40")
    assert basic.node("job").value == "farmer"


def test_relevance_inherited_from_group(basic: FormSession) -> None:
    basic.set("age", "3")
    assert not basic.node("inner").relevant
    basic.set("age", "6")
    assert basic.node("inner").relevant


def test_required_only_when_relevant(basic: FormSession) -> None:
    basic.set("age", "10")
    job = basic.node("job")
    # ODK Web Forms reports the required expression as is; only required_empty needs relevance.
    assert job.required and not job.required_empty and job.valid
    basic.set("age", "20")
    job = basic.node("job")
    assert job.required and job.required_empty and not job.valid


def test_constraint_on_empty_and_violated(basic: FormSession) -> None:
    assert basic.node("income").constraint_valid
    basic.set("income", "-5")
    state = basic.node("income")
    assert not state.constraint_valid and state.constraint_message == "Negative"
    assert any(p.name == "income" for p in basic.problems())


def test_integer_answers_are_checked(basic: FormSession) -> None:
    with pytest.raises(AnswerError, match="not a whole number"):
        basic.set("age", "3.5")
    with pytest.raises(AnswerError, match="not a whole number"):
        basic.set("age", "abc")
    assert basic.set("age", "007") == "7"


def test_calculations_truncation_infinity_nan(basic: FormSession) -> None:
    basic.set("income", "2.75")
    assert basic.node("double").value == "5.5"
    assert basic.node("trunc").value == "2"  # an integer node truncates a computed 2.75
    assert basic.node("ratio").value == "Infinity"
    assert basic.node("nan").value == ""
    basic.set("income", "-2.75")
    assert basic.node("trunc").value == "-2"
    basic.clear("income")
    assert basic.node("double").value == ""  # '' * 2 is NaN, written as empty


def test_select_multiple_choice_order(basic: FormSession) -> None:
    assert basic.set("colors", "blue red") == "red blue"
    with pytest.raises(AnswerError):
        basic.set("colors", "red purple")


def test_select_value_dropped_when_filtered_out(basic: FormSession) -> None:
    basic.set("level", "a")
    assert [c.name for c in basic.node("thing").choices] == ["a1"]
    basic.set("thing", "a1")
    basic.set("level", "b")
    assert basic.node("thing").value == ""
    basic.set("level", "a")
    assert basic.node("thing").value == "a1"  # kept while hidden, as ODK keeps it
    basic.set("level", "b")
    assert basic.set("thing", "a1") == ""  # hidden now: stored as nothing (ODK Web Forms)
    basic.set("level", "a")
    assert basic.node("thing").value == ""
    with pytest.raises(AnswerError, match="not one of the choices"):
        basic.set("thing", "zz")


def test_readonly_default(basic: FormSession) -> None:
    state = basic.node("fixed")
    assert state.value == "hello" and state.readonly
    with pytest.raises(AnswerError, match="read-only"):
        basic.set("fixed", "x")
    with pytest.raises(AnswerError, match="calculated"):
        basic.set("double", "1")


def test_answers_restore(basic: FormSession) -> None:
    basic.set("age", "30")
    basic.set("job", "x")
    again = FormSession(basic.form, answers=basic.answers())
    assert again.node("job").value == "x"
    assert again.answers() == basic.answers()


REPEATS = """
| survey |
| | type | name | label | calculation | repeat_count | relevant | default |
| | integer | n | N | | | | |
| | begin_repeat | member | Member | | | | |
| | integer | age | Age | | | | |
| | calculate | older | | ${age} + 1 | | | |
| | text | note | Note | | | ${age} > 17 | |
| | end_repeat | | | | | | |
| | calculate | total | | sum(${age}) | | | |
| | calculate | count | | count(${member}) | | | |
| | begin_repeat | slot | Slot | | ${n} | | |
| | integer | v | V | | | | 5 |
| | end_repeat | | | | | | |
"""


def test_repeat_paths_and_instance_scoped_recompute(md_form: Make) -> None:
    session = FormSession(md_form(REPEATS))
    assert session.add_repeat("member") == "/data/member[2]"
    session.set("/data/member[1]/age", "10")
    session.set("/data/member[2]/age", "20")
    assert session.node("/data/member[1]/older").value == "11"
    assert session.node("/data/member[2]/older").value == "21"
    assert not session.node("/data/member[1]/note").relevant
    assert session.node("/data/member[2]/note").relevant
    assert session.node("total").value == "30"
    assert session.node("count").value == "2"
    session.remove_repeat("/data/member[1]")
    assert session.node("/data/member[1]/age").value == "20"
    assert session.node("total").value == "20"
    assert session.node("count").value == "1"
    with pytest.raises(AnswerError):
        session.node("/data/member[2]/age")


def test_repeat_count_and_defaults(md_form: Make) -> None:
    session = FormSession(md_form(REPEATS))
    session.set("n", "3")
    assert [s.path for s in session.nodes() if s.name == "v"] == [
        "/data/slot[1]/v",
        "/data/slot[2]/v",
        "/data/slot[3]/v",
    ]
    assert session.node("/data/slot[3]/v").value == "5"
    session.set("n", "1")
    assert [s.path for s in session.nodes() if s.name == "v"] == ["/data/slot[1]/v"]
    with pytest.raises(AnswerError):
        session.add_repeat("slot")


def test_ambiguous_name_in_repeat(md_form: Make) -> None:
    session = FormSession(md_form(REPEATS))
    session.add_repeat("member")
    with pytest.raises(AnswerError, match="give its path"):
        session.set("age", "3")


def test_incremental_matches_full_recompute(md_form: Make) -> None:
    form = md_form(REPEATS)
    session = FormSession(form)
    session.add_repeat("member")
    session.add_repeat("member")
    for i, age in enumerate(["5", "30", "18"], start=1):
        session.set(f"/data/member[{i}]/age", age)
    session.set("n", "2")
    incremental = [s.as_eval() for s in session.nodes()]
    session.recompute_all()
    assert [s.as_eval() for s in session.nodes()] == incremental


LANGS = """
| survey |
| | type | name | label::English (en) | label::French (fr) | constraint | constraint_message::English (en) | constraint_message::French (fr) |
| | integer | a | Age ${b} | Âge ${b} | . > 1 | Too small | Trop petit |
| | text | b | B | B | | | |
| | calculate | today_c | | | | | |
| settings |
| | default_language |
| | English (en) |
"""  # noqa: E501


def test_language_and_label_outputs(md_form: Make) -> None:
    form = md_form(LANGS.replace("| | calculate | today_c | | | | | |\n", ""))
    session = FormSession(form)
    session.set("b", "x")
    assert session.node("a").label == "Age x"
    assert session.node("a").constraint_message == "Too small"
    session.set_language("French (fr)")
    assert session.node("a").label == "Âge x"
    assert session.node("a").constraint_message == "Trop petit"
    with pytest.raises(AnswerError):
        session.set_language("Klingon")


def test_message_with_reference_rendered_as_odk(md_form: Make) -> None:
    form = md_form(
        "| survey |\n| | type | name | label | constraint | constraint_message |\n"
        "| | integer | a | A | . < 5 | Too big ${a} here |\n"
    )
    session = FormSession(form)
    session.set("a", "7")
    # pyxform writes the message as itext with <output>, padded by a space: ODK shows that.
    assert session.node("a").constraint_message == " Too big 7 here "


def test_pinned_clock(md_form: Make) -> None:
    form = md_form(
        "| survey |\n| | type | name | label | calculation |\n"
        "| | calculate | d | | today() |\n| | calculate | t | | now() |\n"
    )
    session = FormSession(form, now=datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC))
    assert session.node("d").value == "2026-05-04"
    assert session.node("t").value.startswith("2026-05-04T03:02:01")


@pytest.mark.parametrize(
    ("kind", "good", "stored", "bad"),
    [
        ("decimal", "2.50", "2.5", "two"),
        ("date", "2026-02-28", "2026-02-28", "2026-02-30"),
        ("time", "10:30:00", "10:30:00", "10:30"),
        ("dateTime", "2026-02-28T10:30:00", "2026-02-28T10:30:00", "yesterday"),
        ("geopoint", "12.5 -3.25 100 5", "12.5 -3.25 100.0 5.0", "91 0"),
        ("acknowledge", "OK", "OK", "maybe"),
    ],
)
def test_typed_answers(md_form: Make, kind: str, good: str, stored: str, bad: str) -> None:
    session = FormSession(md_form(f"| survey |\n| | type | name | label |\n| | {kind} | q | Q |\n"))
    assert session.set("q", good) == stored
    with pytest.raises(AnswerError):
        session.set("q", bad)
    assert session.node("q").value == stored


def test_media_answer_is_a_path(md_form: Make) -> None:
    session = FormSession(md_form("| survey |\n| | type | name | label |\n| | image | p | P |\n"))
    assert session.set("p", "photo-1.jpg") == "photo-1.jpg"
    assert session.node("p").type == "image"


def test_questions_navigation(basic: FormSession) -> None:
    basic.set("age", "3")
    names = [q.name for q in basic.questions()]
    assert "job" not in names and "inner" not in names and "double" not in names
    assert names[0] == "age"


def test_lenient_set_stores_what_odk_stores(md_form: Make) -> None:
    session = FormSession(
        md_form(
            "| survey |\n| | type | name | label |\n| | integer | i | I |\n| | date | d | D |\n"
            "| | select_multiple yn | m | M |\n| choices |\n| | list_name | name | label |\n"
            "| | yn | yes | Yes |\n| | yn | no | No |\n"
        )
    )
    assert session.set("i", "-3.7", lenient=True) == "-3"
    assert session.set("i", "abc", lenient=True) == ""
    assert session.set("d", "2024-02-30", lenient=True) == ""
    assert session.set("m", "no zzz", lenient=True) == "no"
    with pytest.raises(AnswerError):
        session.set("nothing", "1", lenient=True)
