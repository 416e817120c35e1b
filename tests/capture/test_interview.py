"""The Interview over a real FormSession and a real workspace, through a scripted Terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from capture_kit import ScriptedTerminal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.capture import Interview, edit_record, start_interview
from fieldkit.capture._records import DraftRecorder
from fieldkit.errors import RecordError
from fieldkit.forms import FormSession, load_form
from fieldkit.store import Workspace, create_workspace

FORMS = Path(__file__).resolve().parent / "forms"
PASSPHRASE = "interview tests correct horse battery"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = tmp_path_factory.mktemp("interview") / "home"
    workspace, _ = create_workspace(home, passphrase=PASSPHRASE)
    with workspace:
        for name in ("household", "nested", "members", "consent", "screening", "optional"):
            workspace.forms.add(load_form(FORMS / f"{name}.md").definition)
        yield workspace


@pytest.fixture
def terminal_factory() -> Iterator[type[ScriptedTerminal]]:
    made: list[ScriptedTerminal] = []

    class Made(ScriptedTerminal):
        def __init__(self, *answers: str) -> None:
            super().__init__(*answers)
            made.append(self)

    yield Made
    for terminal in made:
        terminal.close()


def test_nested_repeats_interview(ws: Workspace, terminal_factory: type[ScriptedTerminal]) -> None:
    term = terminal_factory("yes", "H-1", "30", "y", "4", "n", "y", "H-2", "50", "n", "n", "", "f")
    outcome = start_interview(ws, "nested", terminal=term)
    assert outcome.status == "finalized", term.text
    answers = ws.records.get(outcome.record_id).answers
    assert answers["/data/listing/hh[1]/person[2]/age"] == "4"
    assert answers["/data/listing/hh[2]/hh_code"] == "H-2"
    assert answers["/data/listing/hh[2]/person[1]/age"] == "50"
    assert "Add another person?" in term.text and "Add another household?" in term.text
    assert "· household" in term.text  # the repeat's label heads its questions


def test_counted_repeat_entries_cannot_be_removed(
    ws: Workspace, terminal_factory: type[ScriptedTerminal]
) -> None:
    term = terminal_factory("V-1", "20", "", "n", "1", ":del", "y", "3", "f")
    outcome = start_interview(ws, "members", terminal=term)
    assert outcome.status == "finalized", term.text
    assert "repeats a set number of times" in term.text
    assert ws.records.get(outcome.record_id).answers["/data/child[1]/child_age"] == "3"


def test_no_draft_until_the_first_answer(
    ws: Workspace, terminal_factory: type[ScriptedTerminal]
) -> None:
    before = len(ws.records.list())
    term = terminal_factory(":help", ":review", "")
    outcome = start_interview(ws, "household", terminal=term)
    assert outcome.status == "quit" and outcome.record_id is None
    assert term.cleared == 1
    assert len(ws.records.list()) == before


def test_every_accepted_answer_is_saved_before_the_next_question(
    ws: Workspace, terminal_factory: type[ScriptedTerminal]
) -> None:
    seen: list[dict[str, str]] = []

    class Watching(DraftRecorder):
        def save(self, answers: dict[str, str]) -> str:
            record_id = super().save(answers)
            seen.append(dict(ws.records.get(record_id).answers))  # read back from the store
            return record_id

    version = ws.forms.get("household")
    form = version.form()
    term = terminal_factory("1", "99", "2", ":q")
    recorder = Watching(ws, form_id=version.form_id, form_version=version.version)
    outcome = Interview(
        form=form, session=FormSession(form), terminal=term, recorder=recorder
    ).run()
    assert outcome.status == "quit"
    # site saved, 99 refused (never saved), 2 saved, then the quick exit saves once more.
    assert [a["/data/site"] for a in seen] == ["north", "north", "north"]
    assert [a["/data/people"] for a in seen] == ["", "2", "2"]


def test_sensitive_answers_are_never_shown_unless_asked(
    ws: Workspace, terminal_factory: type[ScriptedTerminal]
) -> None:
    term = terminal_factory(
        "1", "2", "Zed Secretname", "", "", "yes", "", "-1.5 36.9", ":b", ":b", ":review", "f"
    )
    outcome = start_interview(ws, "household", terminal=term)
    assert outcome.status == "finalized"
    assert "Secretname" not in term.text and "36.9" not in term.text
    assert "answered, hidden" in term.text
    assert "URGENT" in term.text


def test_edit_starts_at_review_and_keeps_the_old_record(
    ws: Workspace, terminal_factory: type[ScriptedTerminal]
) -> None:
    first = start_interview(
        ws, "household", terminal=terminal_factory("2", "5", "", "", "", "", "", "f")
    )
    assert first.status == "finalized"
    term = terminal_factory("1", "1", "f")
    edited = edit_record(ws, str(first.record_id), terminal=term)
    assert edited.status == "finalized"
    assert term.prompts[0] == "review> "
    new = ws.records.get(str(edited.record_id))
    assert new.replaces == first.record_id
    assert new.answers["/data/site"] == "north"
    assert ws.records.get(str(first.record_id)).answers["/data/site"] == "south"


def test_commands_work_at_the_review_prompt(
    ws: Workspace, terminal_factory: type[ScriptedTerminal]
) -> None:
    term = terminal_factory("1", ":review", ":lang fr", ":frob", ":j people", "4", ":save")
    outcome = start_interview(ws, "household", terminal=term)
    assert outcome.status == "saved"
    text = term.text
    assert "Quel site ?" in text and "District nord" in text  # the review, now in French
    assert "Relecture" in text  # and the interview's own words too
    assert "commande inconnue" in text
    assert ws.records.get(str(outcome.record_id)).answers["/data/people"] == "4"
    assert term.prompts.count("review> ") == 4  # back to the review after the change


def test_finalize_with_nothing_typed(
    ws: Workspace, terminal_factory: type[ScriptedTerminal]
) -> None:
    outcome = start_interview(ws, "optional", terminal=terminal_factory("", "f"))
    assert outcome.status == "finalized"
    record = ws.records.get(str(outcome.record_id))
    assert record.status == "finalized"
    assert record.answers["/data/remarks"] == ""


VOCABULARY = [
    "",
    "1",
    "2",
    "3",
    "9",
    "0",
    "-4",
    "31",
    "north",
    "yes",
    "no",
    "y",
    "n",
    "1 3",
    "water,food",
    "2024-02-30",
    "2024-05-02",
    "today",
    "-1.2 36.8",
    "95 200",
    "abc",
    "Zed",
    ":b",
    ":back",
    ":j 3",
    ":jump people",
    ":j 99",
    ":review",
    "s",
    "f",
    ":lang fr",
    ":lang en",
    ":lang zz",
    ":skip",
    ":dk",
    ":pn",
    ":del",
    ":help",
    ":nonsense",
    "!",
    "::",
    " : ",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=st.lists(st.sampled_from(VOCABULARY), max_size=40))
def test_any_typing_is_forgiven_and_nothing_invalid_is_saved(
    ws: Workspace, script: list[str]
) -> None:
    term = ScriptedTerminal(*script)
    try:
        outcome = start_interview(ws, "household", terminal=term)
    finally:
        term.close()
    assert outcome.status in {"finalized", "saved", "quit"}
    if outcome.record_id is None:
        return
    record = ws.records.get(outcome.record_id)
    people = record.answers.get("/data/people", "")
    assert people == "" or 1 <= int(people) <= 30
    assert record.answers.get("/data/site", "") in {"", "north", "south"}
    if outcome.status == "finalized":
        assert record.answers["/data/site"] and record.answers["/data/people"]


def test_edit_twice_reopens_the_same_draft_and_old_versions_are_refused(
    ws: Workspace, terminal_factory: type[ScriptedTerminal]
) -> None:
    first = start_interview(
        ws, "household", terminal=terminal_factory("2", "5", "", "", "", "", "", "f")
    )
    original = str(first.record_id)
    left = edit_record(ws, original, terminal=terminal_factory("2", "6", ":save"))
    assert left.status == "saved"
    again = edit_record(ws, original, terminal=terminal_factory("f"))
    assert again.record_id == left.record_id  # the same unfinished edit, not a second one
    assert ws.records.get(str(again.record_id)).answers["/data/people"] == "6"
    with pytest.raises(RecordError, match="was replaced by"):
        edit_record(ws, original, terminal=terminal_factory())
