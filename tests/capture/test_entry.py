"""What the interviewer types: commands and the answer parsers per question type."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.capture._entry import (
    Command,
    parse_answer,
    parse_command,
    question_kind,
    special_choice,
)
from fieldkit.errors import AnswerError


@dataclass(frozen=True)
class C:
    name: str


CHOICES = [C("yes"), C("no"), C("dont_know"), C("prefer_not")]
LABELS = ["Yes", "No", "Don't know", "Prefer not to answer"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":b", Command("back")),
        (":back", Command("back")),
        (":jump 4", Command("jump", "4")),
        (":j age", Command("jump", "age")),
        (":review", Command("review")),
        (":lang fr", Command("lang", "fr")),
        (":save", Command("save")),
        (":q", Command("quit")),
        ("!!", Command("quit")),
        ("  :HELP ", Command("help")),
        (":skip", Command("skip")),
        (":dk", Command("dont_know")),
        (":pn", Command("prefer_not")),
    ],
)
def test_commands(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["back", "q", "review", "12", "", "!", "yes: no"])
def test_answers_are_not_commands(text: str) -> None:
    assert parse_command(text) is None


def test_unknown_command_is_an_error_without_echoing_much() -> None:
    with pytest.raises(AnswerError, match="unknown command"):
        parse_command(":frobnicate-my-secret-name")
    with pytest.raises(AnswerError) as info:
        parse_command(":frobnicate-my-secret-name")
    assert "secret" not in str(info.value)


def test_select_one_by_number_name_or_label() -> None:
    kw = {"choices": CHOICES, "labels": LABELS}
    assert parse_answer("select_one", "1", **kw) == "yes"
    assert parse_answer("select_one", "NO", **kw) == "no"
    assert parse_answer("select_one", "don't know", **kw) == "dont_know"
    assert parse_answer("select_one", "", **kw) == ""
    for bad in ("5", "0", "maybe"):
        with pytest.raises(AnswerError, match="1 to 4"):
            parse_answer("select_one", bad, **kw)


def test_select_multiple_separators_and_choice_order() -> None:
    kw = {"choices": CHOICES, "labels": LABELS}
    assert parse_answer("select_multiple", "2 1", **kw) == "yes no"
    assert parse_answer("select_multiple", "no, yes", **kw) == "yes no"
    assert parse_answer("select_multiple", "no,yes;2", **kw) == "yes no"
    with pytest.raises(AnswerError):
        parse_answer("select_multiple", "1 9", **kw)


@given(st.lists(st.sampled_from(range(1, 5)), min_size=1))
def test_select_multiple_any_order_gives_choice_order(picks: list[int]) -> None:
    value = parse_answer("select_multiple", " , ".join(map(str, picks)), choices=CHOICES)
    names = [c.name for c in CHOICES]
    wanted = sorted({names[p - 1] for p in picks}, key=names.index)
    assert value.split() == wanted


def test_numbers() -> None:
    assert parse_answer("integer", " +42 ") == "42"
    assert parse_answer("integer", "-3") == "-3"
    with pytest.raises(AnswerError, match="whole number"):
        parse_answer("integer", "4.5")
    assert parse_answer("decimal", "3.5") == "3.5"
    assert parse_answer("decimal", "3,5") == "3.5"
    for bad in ("abc", "nan", "inf", "1,000.5"):
        with pytest.raises(AnswerError):
            parse_answer("decimal", bad)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_integer_round_trip(number: int) -> None:
    assert parse_answer("integer", str(number)) == str(number)


def test_dates() -> None:
    assert parse_answer("date", "2024-02-29") == "2024-02-29"
    assert parse_answer("date", "today", today=dt.date(2025, 1, 2)) == "2025-01-02"
    with pytest.raises(AnswerError, match="does not exist"):
        parse_answer("date", "2023-02-29")
    for bad in ("29/02/2024", "2024-2-9", "yesterday"):
        with pytest.raises(AnswerError, match="YYYY-MM-DD"):
            parse_answer("date", bad)


@given(st.dates())
def test_date_round_trip(day: dt.date) -> None:
    if day.year >= 1000:
        assert parse_answer("date", day.isoformat()) == day.isoformat()


def test_geopoint() -> None:
    assert parse_answer("geopoint", "-1.28 36.82") == "-1.28 36.82"
    assert parse_answer("geopoint", "-1.28, 36.82, 1700, 5") == "-1.28 36.82 1700 5"
    for bad in ("-1.28", "a b", "91 0", "0 181"):
        with pytest.raises(AnswerError):
            parse_answer("geopoint", bad)


def test_time_and_datetime() -> None:
    assert parse_answer("time", "9:05").startswith("09:05:00.000")
    assert parse_answer("datetime", "2024-03-01 14:30").startswith("2024-03-01T14:30:00.000")
    with pytest.raises(AnswerError):
        parse_answer("time", "25:00")


def test_text_is_kept() -> None:
    assert parse_answer("text", "  Nairobi  ") == "Nairobi"


def test_kinds() -> None:
    assert question_kind("select one") == "select_one"
    assert question_kind("select_one yesno") == "select_one"
    assert question_kind("select all that apply") == "select_multiple"
    assert question_kind("dateTime") == "datetime"
    assert question_kind("integer") == "integer"


def test_special_choices() -> None:
    assert special_choice(CHOICES, "dont_know") == "dont_know"
    assert special_choice(CHOICES, "prefer_not") == "prefer_not"
    assert special_choice([C("yes"), C("no")], "dont_know") is None
    assert special_choice([C("1"), C("-99")], "prefer_not") == "-99"


# Issue 12: where choice names are digits (KoboToolbox 0/1 and 1/2 codes), a bare number is the
# position on screen; a name is taken only where the number cannot be a position, or with "=".
ZERO_ONE = [C("0"), C("1")]  # shown as "1. No  2. Yes"
REVERSED = [C("2"), C("1")]  # shown as "1. No (code 2)  2. Yes (code 1)"
CODES = [C("1"), C("2"), C("98"), C("-99")]  # yes, no, don't know, refused


def test_a_bare_number_is_always_the_position_on_screen() -> None:
    assert parse_answer("select_one", "1", choices=ZERO_ONE, labels=["No", "Yes"]) == "0"
    assert parse_answer("select_one", "2", choices=ZERO_ONE, labels=["No", "Yes"]) == "1"
    assert parse_answer("select_one", "1", choices=REVERSED, labels=["No", "Yes"]) == "2"
    assert parse_answer("select_one", "2", choices=REVERSED, labels=["No", "Yes"]) == "1"
    assert parse_answer("select_multiple", "2 1", choices=REVERSED) == "2 1"
    assert parse_answer("rank", "2 1", choices=REVERSED) == "1 2"


def test_a_number_that_cannot_be_a_position_may_be_a_name() -> None:
    assert parse_answer("select_one", "0", choices=ZERO_ONE) == "0"  # no position 0
    assert parse_answer("select_one", "98", choices=CODES) == "98"  # beyond the list
    assert parse_answer("select_one", "-99", choices=CODES) == "-99"  # negative
    assert parse_answer("select_one", "3", choices=CODES) == "98"  # a position again
    with pytest.raises(AnswerError, match="1 to 4"):
        parse_answer("select_one", "97", choices=CODES)
    with pytest.raises(AnswerError, match="1 to 4"):
        parse_answer("select_one", "-98", choices=CODES)


def test_an_equals_sign_takes_a_choice_by_its_name() -> None:
    assert parse_answer("select_one", "=1", choices=ZERO_ONE) == "1"
    assert parse_answer("select_one", "=0", choices=ZERO_ONE) == "0"
    assert parse_answer("select_one", "=1", choices=REVERSED) == "1"
    assert parse_answer("select_multiple", "=1 =2", choices=REVERSED) == "2 1"
    with pytest.raises(AnswerError, match="no choice has that name"):
        parse_answer("select_one", "=7", choices=ZERO_ONE)


def test_positions_follow_the_list_as_filtered_on_screen() -> None:
    # "2" on a filtered view showing choices 3 and 4 of the list is the fourth choice.
    assert parse_answer("select_one", "2", choices=CODES, shown=[2, 3]) == "-99"
    with pytest.raises(AnswerError, match="1 to 2"):
        parse_answer("select_one", "3", choices=CODES, shown=[2, 3])


def test_text_that_is_no_choice_is_a_filter_not_an_error_of_the_list() -> None:
    from fieldkit.capture._entry import NoChoiceMatch

    with pytest.raises(NoChoiceMatch):
        parse_answer("select_one", "ke", choices=CHOICES, labels=LABELS)
    # Labels match without case or accents.
    countries = [C("CI"), C("SN")]
    assert (
        parse_answer(
            "select_one", "cote d'ivoire", choices=countries, labels=["Côte d'Ivoire", "Sénégal"]
        )
        == "CI"
    )


def test_an_answers_file_takes_choices_by_name_only() -> None:
    assert parse_answer("select_one", "1", choices=ZERO_ONE, names_only=True) == "1"
    assert parse_answer("select_one", "1", choices=REVERSED, names_only=True) == "1"
    with pytest.raises(AnswerError):
        parse_answer("select_one", "3", choices=REVERSED, names_only=True)


def test_today_in_french_and_messages_in_the_interview_language() -> None:
    day = dt.date(2026, 3, 4)
    for word in ("aujourd'hui", "Aujourd\u2019hui", "aujourdhui"):
        assert parse_answer("date", word, today=day) == "2026-03-04"
    with pytest.raises(AnswerError, match="AAAA-MM-JJ"):
        parse_answer("date", "04/03/2026", lang="French (fr)")
    with pytest.raises(AnswerError, match="nombre entier"):
        parse_answer("integer", "x", lang="fr")


def test_a_range_error_says_the_range_not_the_field() -> None:
    params = {"start": "1", "end": "10", "step": "1"}
    with pytest.raises(AnswerError) as info:
        parse_answer("range", "12", parameters=params)
    assert str(info.value) == "enter a number from 1 to 10"
    with pytest.raises(AnswerError, match="in steps of 5"):
        parse_answer("range", "7", parameters={"start": "0", "end": "100", "step": "5"})
    assert parse_answer("range", "10", parameters={"start": "0", "end": "100", "step": "5"}) == "10"
