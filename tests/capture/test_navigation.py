"""The interview's path: visible questions in order, with "add another?" where ODK asks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldkit.capture._navigation import AddRepeat, Question, build_steps, template_of
from fieldkit.forms import Form, FormSession, load_form

FORMS = Path(__file__).resolve().parent / "forms"


@pytest.fixture(scope="module")
def nested() -> Form:
    return load_form(FORMS / "nested.md")


def paths(steps: list) -> list[str]:
    return [s.path if isinstance(s, Question) else f"+{s.parent}:{s.template}" for s in steps]


def test_template_of() -> None:
    assert template_of("/data/hh[2]/person[10]/age") == "/data/hh/person/age"


def test_a_hidden_group_hides_its_repeats(nested: Form) -> None:
    session = FormSession(nested)
    assert paths(build_steps(nested, session)) == ["/data/has_households", "/data/done"]


def test_nested_repeats_offer_another_after_their_last_instance(nested: Form) -> None:
    session = FormSession(nested)
    session.set("has_households", "yes")
    session.add_repeat("/data/listing/hh[1]/person")
    session.add_repeat("/data/listing/hh")
    steps = build_steps(nested, session)
    assert paths(steps) == [
        "/data/has_households",
        "/data/listing/hh[1]/hh_code",
        "/data/listing/hh[1]/person[1]/age",
        "/data/listing/hh[1]/person[2]/age",
        "+/data/listing/hh[1]:/data/listing/hh/person",
        "/data/listing/hh[2]/hh_code",
        "/data/listing/hh[2]/person[1]/age",
        "+/data/listing/hh[2]:/data/listing/hh/person",
        "+/data/listing:/data/listing/hh",
        "/data/done",
    ]
    numbers = [s.number for s in steps if isinstance(s, Question)]
    assert numbers == list(range(1, 8))
    counts = [s.count for s in steps if isinstance(s, AddRepeat)]
    assert counts == [2, 1, 2]


def test_a_repeat_with_no_instance_is_still_offered(nested: Form) -> None:
    session = FormSession(nested)
    session.set("has_households", "yes")
    session.remove_repeat("/data/listing/hh[1]")
    assert paths(build_steps(nested, session)) == [
        "/data/has_households",
        "+/data/listing:/data/listing/hh",
        "/data/done",
    ]


def test_counted_repeats_get_no_prompt() -> None:
    form = load_form(FORMS / "members.md")
    session = FormSession(form)
    session.set("children", "3")
    steps = build_steps(form, session)
    assert [s.template for s in steps if isinstance(s, AddRepeat)] == ["/data/member"]
    assert sum(1 for s in steps if isinstance(s, Question) and "/child[" in s.path) == 3
