"""Hypothesis: after any sequence of answers, the incremental recompute equals a full one."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.errors import AnswerError
from fieldkit.forms import FormSession, load_form

FORM = """
| survey |
| | type | name | label | relevant | calculation | repeat_count | choice_filter | constraint |
| | integer | n | N | | | | | |
| | select_one lvl | level | Level | | | | | |
| | select_multiple item | things | Things | ${n} > 0 | | | level = ${level} | |
| | begin_group | g | G | ${n} != 3 | | | | |
| | integer | a | A | | | | | . > ${n} |
| | calculate | a2 | | | ${a} * 2 + ${n} | | | |
| | end_group | | | | | | | |
| | begin_repeat | member | Member | | | | | |
| | integer | age | Age | ${a2} != 4 | | | | |
| | calculate | older | | | ${age} + ${n} | | | |
| | text | note | Note | ${older} > 10 | | | | |
| | end_repeat | | | | | | | |
| | calculate | total | | | sum(${age}) + count(${member}) | | | |
| | begin_repeat | slot | Slot | | | ${n} | | |
| | integer | v | V | | | | | |
| | calculate | vv | | | ${v} + ${total} | | | |
| | end_repeat | | | | | | | |
| | calculate | last | | | indexed-repeat(${vv}, ${slot}, 1) | | | |
| choices |
| | list_name | name | label | level |
| | lvl | a | A | |
| | lvl | b | B | |
| | item | a1 | A1 | a |
| | item | a2 | A2 | a |
| | item | b1 | B1 | b |
"""  # noqa: E501

VALUES = ["", "0", "1", "2", "3", "5", "8", "13"]
operation = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(["n", "a"]), st.sampled_from(VALUES)),
    st.tuples(st.just("set"), st.just("level"), st.sampled_from(["", "a", "b"])),
    st.tuples(st.just("set"), st.just("things"), st.sampled_from(["", "a1", "a2 b1", "b1"])),
    st.tuples(
        st.just("set"),
        st.sampled_from(["/data/member[1]/age", "/data/member[2]/age", "/data/slot[1]/v"]),
        st.sampled_from(VALUES),
    ),
    st.tuples(st.just("set"), st.just("/data/member[2]/note"), st.sampled_from(["", "x"])),
    st.tuples(st.just("add"), st.just("member"), st.just("")),
    st.tuples(st.just("remove"), st.just("/data/member[1]"), st.just("")),
)


@pytest.fixture(scope="module")
def form_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("incremental") / "form.md"
    path.write_text(FORM, encoding="utf-8")
    return path


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(operation, max_size=25))
def test_incremental_equals_full(form_path: Path, operations: list[tuple[str, str, str]]) -> None:
    form = load_form(form_path, build=False)
    session = FormSession(form)
    for kind, target, value in operations:
        try:
            if kind == "set":
                session.set(target, value)
            elif kind == "add":
                session.add_repeat(target)
            else:
                session.remove_repeat(target)
        except AnswerError:
            pass
    incremental = [state.as_eval() for state in session.nodes()]
    session.recompute_all()
    assert [state.as_eval() for state in session.nodes()] == incremental
