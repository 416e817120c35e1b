"""Filling a FormSession from an answers file (DESIGN §8), on the real forms engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fieldkit.capture._answers_file import fill_session, read_answers_file
from fieldkit.errors import AnswerError, UsageError
from fieldkit.forms import Form, FormSession, load_form

FORMS = Path(__file__).resolve().parent / "forms"


@pytest.fixture(scope="module")
def members() -> Form:
    return load_form(FORMS / "members.md")


@pytest.fixture(scope="module")
def nested() -> Form:
    return load_form(FORMS / "nested.md")


def fill(form: Form, data: dict[str, Any]) -> dict[str, str]:
    session = FormSession(form)
    fill_session(form, session, data, source="a.json")
    return session.submission()


def test_names_lists_and_repeats(members: Form) -> None:
    out = fill(
        members,
        {
            "village": "V",
            "member": [{"member_age": 3, "member_works": "no"}, {"member_age": "40"}],
            "children": "2",
            "child": [{"child_age": 1}, {"child_age": 2}],
        },
    )
    assert out["/data/member[2]/member_age"] == "40"
    assert out["/data/member[1]/member_works"] == "no"
    assert out["/data/child[2]/child_age"] == "2"


def test_full_paths_make_the_instances_they_name(members: Form) -> None:
    out = fill(
        members,
        {
            "/data/village": "V",
            "/data/member[1]/member_age": "5",
            "/data/member[3]/member_age": "7",
            "/data/member[2]/member_age": "6",
            "children": 0,
        },
    )
    assert [out[f"/data/member[{i}]/member_age"] for i in (1, 2, 3)] == ["5", "6", "7"]


def test_nested_repeats_as_nested_lists(nested: Form) -> None:
    out = fill(
        nested,
        {
            "has_households": "yes",
            "hh": [
                {"hh_code": "A", "person": [{"age": 1}, {"age": 2}]},
                {"hh_code": "B", "person": [{"age": 3}]},
            ],
        },
    )
    assert out["/data/listing/hh[1]/person[2]/age"] == "2"
    assert out["/data/listing/hh[2]/person[1]/age"] == "3"


def test_an_empty_list_removes_the_first_instance(members: Form) -> None:
    out = fill(members, {"village": "V", "member": [], "children": 0})
    assert not any("/member[" in path for path in out)


def test_every_problem_is_named_once_and_no_value_is_echoed(members: Form) -> None:
    with pytest.raises(AnswerError) as info:
        fill(
            members,
            {"member": [{"member_age": "-5"}, {"member_works": "perhaps"}], "children": 11},
        )
    message = str(info.value)
    assert message.startswith("a.json: nothing saved; missing: village")
    assert "member_age" in message and "member_works" in message and "children" in message
    assert "perhaps" not in message and "-5" not in message and "11" not in message


def test_counted_repeat_with_too_many_entries(members: Form) -> None:
    with pytest.raises(AnswerError, match="more entries than its count"):
        fill(members, {"village": "V", "member": [], "children": 1, "child": [{}, {}]})


def test_unknown_names_and_wrong_shapes(members: Form) -> None:
    with pytest.raises(UsageError, match="no question named shoe_size"):
        fill(members, {"village": "V", "shoe_size": 3})
    with pytest.raises(UsageError, match="member_age: inside a repeat"):
        fill(members, {"member_age": 3})  # inside a repeat: needs the repeat's object or a path
    with pytest.raises(AnswerError, match="a repeat: give a list of objects"):
        fill(members, {"village": "V", "member": {"member_age": 3}, "children": 0})
    with pytest.raises(AnswerError, match="calculated or display-only"):
        fill(members, {"village": "V", "instanceID": "x", "member": [], "children": 0})


def test_read_answers_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"a": 1}), encoding="utf-8")
    assert read_answers_file(good) == {"a": 1}
    for name, text in (("bad.json", "{"), ("list.json", "[]"), ("bin.json", b"\xff\xfe")):
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        with pytest.raises(UsageError) as info:
            read_answers_file(path)
        assert name in str(info.value)
    with pytest.raises(UsageError, match="cannot read"):
        read_answers_file(tmp_path / "missing.json")
