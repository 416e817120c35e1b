"""`fieldkit capture` and `records edit` driven through CliRunner with scripted input (issue 4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fieldkit.cli import app
from fieldkit.forms import load_form
from fieldkit.store import create_workspace, open_workspace

FORMS = Path(__file__).resolve().parent.parent / "capture" / "forms"
PASSPHRASE = "capture tests correct horse battery"
CLEAR = "\x1b[2J"


@pytest.fixture(scope="module")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real encrypted workspace holding the test forms, made once (key derivation is slow
    on purpose); each test works on its own copy of the files."""
    path = tmp_path_factory.mktemp("template") / "home"
    ws, _ = create_workspace(path, passphrase=PASSPHRASE)
    with ws:
        for name in ("household", "members", "consent", "screening"):
            ws.forms.add(load_form(FORMS / f"{name}.md").definition)
    return path


@pytest.fixture
def ws_home(home: Path, template_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the template workspace at FIELDKIT_HOME; the passphrase in the environment."""
    shutil.copytree(template_home, home)
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("COLUMNS", "120")
    return home


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def records(home: Path, **filters: str) -> list:
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        return list(ws.records.list(**filters))


def lines(*entries: str) -> str:
    return "".join(f"{e}\n" for e in entries)


# Household: 1 site, 2 people, 3 nickname (sensitive), 4 visit_date (default), 5 needs,
# 6 threatened (sensitive; "yes" shows the urgent note as 7), then place (sensitive).
HAPPY = lines("1", "3", "Zed Secretname", "", "1 3", "2", "-1.28 36.82", "f")


def test_happy_path_finalizes_with_every_answer(ws_home: Path) -> None:
    result = run("capture", "household", input=HAPPY)
    assert result.exit_code == 0, result.output
    # An honest measure: what is answered, and at most how many may still come.
    assert "Question 1 · 0 answered · at most 6 to go" in result.output
    assert "Question 7 · 6 answered · last question" in result.output
    assert "Which site?" in result.output and "The district code" in result.output
    assert "[2024-05-01]" in result.output  # the default, kept with Enter
    assert "Finalized" in result.output
    # Sensitive answers never come back on screen: the review masks them.
    assert "Secretname" not in result.output and "36.82" not in result.output
    assert "•••••" in result.output
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert answers["/data/site"] == "north"
    assert answers["/data/people"] == "3"
    assert answers["/data/nickname"] == "Zed Secretname"
    assert answers["/data/visit_date"] == "2024-05-01"
    assert answers["/data/needs"] == "water school"
    assert answers["/data/threatened"] == "no"
    assert answers["/data/place"] == "-1.28 36.82"
    assert answers["/data/urgent"] == "no"
    assert not records(ws_home, status="draft")


def test_skip_is_recorded_as_empty_never_no(ws_home: Path) -> None:
    script = lines("2", "4", "", ":skip", "", ":skip", "", "f")
    result = run("capture", "household", input=script)
    assert result.exit_code == 0, result.output
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert answers["/data/threatened"] == ""
    assert answers["/data/needs"] == ""
    assert answers["/data/visit_date"] == ""  # :skip clears even a default
    assert "(skipped)" in result.output


def test_dont_know_and_prefer_not_where_offered(ws_home: Path) -> None:
    script = lines("1", "2", ":dk", "", "", "", ":pn", "", "f")
    result = run("capture", "household", input=script)
    assert result.exit_code == 0, result.output
    # nickname is text: it offers neither, and says so; the question is asked again.
    assert "does not offer" in result.output
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert answers["/data/threatened"] == "prefer_not"
    assert answers["/data/nickname"] == ""


def test_back_and_jump(ws_home: Path) -> None:
    script = lines(
        "1",  # site
        ":b",  # back to site: its answer is shown in brackets
        "2",  # change it
        "4",  # people
        ":jump 6",  # straight to threatened
        "yes",  # the urgent note appears next
        "",  # note: Enter continues
        ":j people",  # by name
        "",  # Enter keeps 4
        ":j 9",  # no question 9: said so, still at question 3
        ":j 8",  # the last question
        "",
        "f",
    )
    result = run("capture", "household", input=script)
    assert result.exit_code == 0, result.output
    assert "[North district]" in result.output
    assert "URGENT: emergency contacts 112" in result.output
    assert "[4]" in result.output
    assert "no visible question by that number" in result.output
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert answers["/data/site"] == "south"
    assert answers["/data/people"] == "4"
    assert answers["/data/threatened"] == "yes"
    assert answers["/data/urgent"] == "yes"


def test_invalid_then_valid(ws_home: Path) -> None:
    script = lines("9", "north", "0", "many", "5", "", "31/12/2024", "2024-02-30", "2024-12-31")
    script += lines("1 7", "water,food", "", "", ":review", "f")
    result = run("capture", "household", input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "choose a number from 1 to 2" in out
    assert "Between 1 and 30 people" in out  # the form's constraint message
    assert "enter a whole number" in out
    assert "YYYY-MM-DD" in out and "does not exist" in out
    assert "choose a number from 1 to 3" in out
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert answers["/data/people"] == "5"
    assert answers["/data/visit_date"] == "2024-12-31"
    assert answers["/data/needs"] == "water food"


def test_required_refuses_enter(ws_home: Path) -> None:
    result = run("capture", "household", input=lines("", ":skip", "1", ":save"))
    assert result.exit_code == 0, result.output
    assert result.output.count("this question is required") == 2
    (draft,) = records(ws_home, status="draft")
    assert draft.answers["/data/site"] == "north"


def test_repeat_add_another_and_counted_repeat(ws_home: Path) -> None:
    script = lines(
        "V-12",
        "34",  # member 1
        "yes",
        "y",  # add another household member
        "9",  # member 2
        "no",
        "n",  # no more members
        "2",  # children: two child instances follow, no prompt
        "4",
        "7",
        "f",
    )
    result = run("capture", "members", input=script)
    assert result.exit_code == 0, result.output
    assert "Add another household member?" in result.output
    assert "Add another child" not in result.output
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert answers["/data/member[1]/member_age"] == "34"
    assert answers["/data/member[2]/member_age"] == "9"
    assert answers["/data/member[2]/member_works"] == "no"
    assert answers["/data/child[1]/child_age"] == "4"
    assert answers["/data/child[2]/child_age"] == "7"
    assert "/data/member[3]/member_age" not in answers


def test_repeat_entry_added_by_mistake_can_be_removed(ws_home: Path) -> None:
    script = lines("V-1", "30", "", "y", ":del", "y", "n", "0", "f")
    result = run("capture", "members", input=script)
    assert result.exit_code == 0, result.output
    assert "Remove this household member" in result.output
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert "/data/member[2]/member_age" not in answers
    assert answers["/data/member[1]/member_age"] == "30"


def test_language_switch(ws_home: Path) -> None:
    script = lines(":lang fr", "1", ":lang xx", ":lang en", ":save")
    result = run("capture", "household", input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Which site?" in out
    assert "Quel site ?" in out and "District nord" in out
    assert "Combien de personnes vivent ici ?" in out
    # The interview's own words follow the form's language too.
    assert "langues de ce formulaire : English (en), French (fr)" in out
    assert "obligatoire" in out and "numéro >" in out
    # Back to English for the same question after the French.
    assert out.rindex("How many people live here?") > out.rindex("Combien de personnes")


def test_lang_option_and_unknown_language(ws_home: Path) -> None:
    result = run("capture", "household", "--lang", "fr", input=lines(":q"))
    assert result.exit_code == 0
    assert "Quel site ?" in result.output
    result = run("capture", "household", "--lang", "de", input="")
    assert result.exit_code != 0
    assert "no language" in result.output


def test_quick_exit_saves_clears_and_resume_continues(ws_home: Path) -> None:
    result = run("capture", "household", input=lines("2", "6", "!!"))
    assert result.exit_code == 0, result.output
    assert result.output.endswith(result.output[result.output.rindex(CLEAR) - 3 :])
    assert CLEAR in result.output and "\x1b[3J" in result.output
    (draft,) = records(ws_home, status="draft")
    assert draft.answers["/data/people"] == "6"
    listed = json.loads(run("records", "list", "--json").stdout)
    assert [(r["id"], r["status"]) for r in listed] == [(draft.id, "draft")]

    resumed = run("capture", "household", "--resume", draft.id, input=lines("Ann", ":q"))
    assert resumed.exit_code == 0, resumed.output
    assert "Question 3 ·" in resumed.output  # after the last answered question
    assert "Question 1 ·" not in resumed.output
    (draft_again,) = records(ws_home, status="draft")
    assert draft_again.id == draft.id
    assert draft_again.answers["/data/nickname"] == "Ann"

    finished = run("capture", "household", "--resume", draft.id, input=lines("", "", "", "", "f"))
    assert finished.exit_code == 0, finished.output
    assert "Question 4 ·" in finished.output
    assert [r.id for r in records(ws_home, status="finalized")] == [draft.id]


@pytest.mark.parametrize("leave", [":q", None], ids=["colon-q", "end-of-input"])
def test_quick_exit_by_command_or_end_of_input(ws_home: Path, leave: str | None) -> None:
    script = lines("1") + (lines(leave) if leave else "")
    result = run("capture", "household", input=script)
    assert result.exit_code == 0
    assert CLEAR in result.output
    (draft,) = records(ws_home, status="draft")
    assert draft.answers["/data/site"] == "north"


def test_quick_exit_before_any_answer_leaves_nothing(ws_home: Path) -> None:
    result = run("capture", "household", input=lines(":q"))
    assert result.exit_code == 0
    assert records(ws_home) == []


def test_quick_exit_locks_the_workspace(ws_home: Path) -> None:
    from fieldkit.store import open_from_cache, unlock_cache

    if not unlock_cache.available():
        pytest.skip("no kernel keyring here")
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        assert ws.remember_unlock(timeout_seconds=60)
    reopened = open_from_cache(ws_home, timeout_seconds=60)
    assert reopened is not None
    reopened.close()
    run("capture", "household", input=lines("1", "!!"))
    assert open_from_cache(ws_home, timeout_seconds=60) is None


def test_save_command_clears_and_prints_how_to_resume(ws_home: Path) -> None:
    result = run("capture", "household", input=lines("1", ":save"))
    (draft,) = records(ws_home, status="draft")
    # What was typed leaves the screen; the one line left says how to go on.
    after = result.output[result.output.rindex(CLEAR) :]
    assert f"fieldkit capture --resume {draft.id}" in after
    assert "Which site?" not in after


def test_review_masks_then_shows_and_changes_an_answer(ws_home: Path) -> None:
    script = lines("1", "3", "Zed Secretname", "", "", "2", "", ":review")
    script += lines("s", "s", "2", "8", "f")
    result = run("capture", "household", input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("Secretname") == 1  # shown once, when asked with s
    assert "Review" in out
    (record,) = records(ws_home, status="finalized")
    assert record.answers["/data/people"] == "8"


def test_finalize_refused_while_something_is_missing(ws_home: Path) -> None:
    result = run("capture", "household", input=lines("1", ":review", "f", "", "", ":q"))
    assert result.exit_code == 0, result.output
    assert "Cannot finalize yet: 2. people" in result.output
    assert "(missing)" in result.output
    assert "(not asked yet)" in result.output and "(skipped)" not in result.output
    assert records(ws_home, status="finalized") == []
    (draft,) = records(ws_home, status="draft")
    assert draft.answers["/data/site"] == "north"


def test_help_lists_the_commands(ws_home: Path) -> None:
    result = run("capture", "household", input=lines(":help", ":nope", ":q"))
    for spelling in (":back", ":jump", ":review", ":lang", ":save", ":skip", "!!", "QUICK EXIT"):
        assert spelling in result.output
    assert "unknown command" in result.output


def test_edit_makes_a_new_version_that_replaces_the_old(ws_home: Path) -> None:
    run("capture", "household", input=HAPPY)
    (old,) = records(ws_home, status="finalized")
    result = run("records", "edit", old.id, input=lines("2", "9", "f"))
    assert result.exit_code == 0, result.output
    assert f"new version of {old.id}" in result.output
    assert "Review" in result.output.split("Question")[0]  # starts at the review
    finalized = records(ws_home, status="finalized")
    assert len(finalized) == 2
    new = next(r for r in finalized if r.id != old.id)
    assert new.replaces == old.id
    assert new.answers["/data/people"] == "9"
    assert new.answers["/data/nickname"] == "Zed Secretname"
    still = next(r for r in finalized if r.id == old.id)
    assert still.answers["/data/people"] == "3"  # the old one is immutable
    assert still.answers == old.answers


def test_unknown_form_or_record(ws_home: Path) -> None:
    result = run("capture", "nope", input="")
    assert result.exit_code == 1 and result.output.startswith("Error:")
    assert "fieldkit forms add nope" in result.output
    result = run("capture", "household", "--resume", "0000", input="")
    assert result.exit_code == 1 and result.output.startswith("Error:")
    assert run("records", "edit", "0000", input="").exit_code == 1


def test_resume_refuses_a_finalized_record(ws_home: Path) -> None:
    run("capture", "household", input=HAPPY)
    (old,) = records(ws_home, status="finalized")
    result = run("capture", "household", "--resume", old.id, input="")
    assert result.exit_code == 1
    assert "records edit" in result.output


# ------------------------------------------------------------------------- --answers


def write(tmp_path: Path, data: object, name: str = "answers.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_answers_file_finalizes(ws_home: Path, tmp_path: Path) -> None:
    data = {
        "site": "south",
        "people": 4,
        "needs": ["school", "water"],
        "threatened": "dont_know",
        "place": "-1.5 36.9",
    }
    result = run("capture", "household", "--answers", str(write(tmp_path, data)))
    assert result.exit_code == 0, result.output
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert answers["/data/needs"] == "water school"
    assert answers["/data/people"] == "4"
    assert answers["/data/visit_date"] == "2024-05-01"  # default applies
    assert answers["/data/place"] == "-1.5 36.9"


def test_answers_file_with_repeats(ws_home: Path, tmp_path: Path) -> None:
    data = {
        "village": "V-3",
        "member": [{"member_age": 40, "member_works": "yes"}, {"member_age": "12"}],
        "children": 1,
        "child": [{"child_age": 3}],
    }
    result = run("capture", "members", "--answers", str(write(tmp_path, data)))
    assert result.exit_code == 0, result.output
    (record,) = records(ws_home, status="finalized")
    answers = record.answers
    assert answers["/data/member[2]/member_age"] == "12"
    assert answers["/data/child[1]/child_age"] == "3"
    # A repeat keyed by path where needed, and an empty list removes the first instance.
    data2 = {"/data/village": "V-4", "member": [], "children": 0}
    result = run("capture", "members", "--answers", str(write(tmp_path, data2, "b.json")))
    assert result.exit_code == 0, result.output


def test_answers_file_failure_lists_every_problem_and_saves_nothing(
    ws_home: Path, tmp_path: Path
) -> None:
    data = {"people": 99, "needs": "water soap", "threatened": True, "nickname": "Zed Secretname"}
    result = run("capture", "household", "--answers", str(write(tmp_path, data)))
    assert result.exit_code == 1
    message = result.output.strip()
    assert message.count("\n") == 0  # one line
    assert "missing: site" in message
    assert "needs" in message and "threatened" in message and "people" in message
    assert "Secretname" not in message and "soap" not in message and "99" not in message
    assert records(ws_home) == []


def test_answers_file_bad_json_and_unknown_names(ws_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"site": "north",', encoding="utf-8")
    result = run("capture", "household", "--answers", str(bad))
    assert result.exit_code == 2
    assert result.output.strip().startswith("Error: bad.json is not valid JSON")
    result = run("capture", "household", "--answers", str(write(tmp_path, ["north"])))
    assert result.exit_code == 2
    unknown = write(tmp_path, {"site": "north", "people": 2, "shoe_size": 9})
    result = run("capture", "household", "--answers", str(unknown))
    assert result.exit_code == 2
    assert "shoe_size" in result.output
    assert records(ws_home) == []


# ------------------------------------------------------------------------- consent gate


def case_code(home: Path) -> str:
    """The case code of the latest consent record."""
    consent = records(home, form_id="consent")[-1]
    return str(consent.answers["/data/client_pseudonym"])


def mistype(code: str) -> str:
    """The code with one character changed, as a tired finger would."""
    wrong = "7" if code[4] != "7" else "8"
    return code[:4] + wrong + code[5:]


def test_consent_gate(ws_home: Path, tmp_path: Path) -> None:
    refused = run("capture", "screening", input="")
    assert refused.exit_code == 1
    assert "fieldkit capture consent" in refused.output
    assert records(ws_home) == []

    no = run("capture", "consent", "--answers", str(write(tmp_path, {"agrees": "no"}, "n.json")))
    assert no.exit_code == 0, no.output
    assert run("capture", "screening", input="").exit_code == 1  # consent refused is no consent

    # fieldkit proposes the case code; Enter keeps it.
    given = run("capture", "consent", input=lines("1", "", "f"))
    assert given.exit_code == 0, given.output
    code = case_code(ws_home)
    assert f"fieldkit proposes the new case code {code}" in given.output
    assert f"[{code}]" in given.output

    # The same case code, typed in lower case without dashes: allowed and finalized.
    ok = run("capture", "screening", input=lines(code.lower().replace("-", ""), "2", "f"))
    assert ok.exit_code == 0, ok.output
    assert "Finalized" in ok.output
    (screening,) = records(ws_home, form_id="screening", status="finalized")
    assert screening.answers["/data/client_pseudonym"] == code
    # A mistyped code is refused where it is typed, with the near match; nothing is saved.
    other = run("capture", "screening", input=lines(mistype(code), ":q"))
    assert "not a case code made by fieldkit" in other.output
    assert f"Did you mean {code}?" in other.output
    assert "record" not in other.output.split("Did you mean")[1].split("\n")[1]
    assert records(ws_home, form_id="screening", status="draft") == []
    data = {"client_pseudonym": mistype(code), "forced": "no"}
    result = run("capture", "screening", "--answers", str(write(tmp_path, data)))
    assert result.exit_code == 1
    assert "check the code on the person's card" in result.output
    assert mistype(code) not in result.output


def test_withdrawn_consent_closes_the_gate(ws_home: Path, tmp_path: Path) -> None:
    run("capture", "consent", input=lines("1", "", "f"))
    code = case_code(ws_home)
    (consent,) = records(ws_home, form_id="consent")
    assert run("capture", "screening", input=lines(code, ":q")).exit_code == 0
    # The person withdraws: the consent record is edited to "no".
    result = run("records", "edit", consent.id, input=lines("1", "2", "f"))
    assert result.exit_code == 0, result.output
    refused = run("capture", "screening", input="")
    assert refused.exit_code == 1
    data = {"client_pseudonym": code, "forced": "no"}
    result = run("capture", "screening", "--answers", str(write(tmp_path, data)))
    assert result.exit_code == 1
    # The edit keeps no case code (a refusal keeps only an anonymous count): no consent.
    assert "no finalized consent on this laptop for this case code" in result.output


# ------------------------------------------------------------------------- resume


def test_resume_without_an_id_lists_drafts_and_takes_a_prefix(ws_home: Path) -> None:
    run("capture", "household", input=lines("1", ":save"))
    run("capture", "consent", input=lines("1", ":save"))
    drafts = records(ws_home, status="draft")
    assert len(drafts) == 2
    listed = run("capture", "--resume", input=lines("2", ":q"))
    assert listed.exit_code == 0, listed.output
    assert "Drafts on this laptop" in listed.output
    assert "household" in listed.output and "consent" in listed.output
    assert "North district" not in listed.output.split("Draft number")[0]  # no answers
    assert f"draft {drafts[1].id}" in listed.output
    # No form id, an id prefix: README's `fieldkit capture --resume RECORD_ID` works.
    prefix = drafts[0].id[:6]
    resumed = run("capture", "--resume", prefix, input=lines(":q"))
    assert resumed.exit_code == 0, resumed.output
    assert f"draft {drafts[0].id}" in resumed.output
    # The quick exit's one line says how to go on, and nothing about whom.
    assert resumed.output.endswith("Locked. `fieldkit capture --resume` continues a draft.\n")
    cancelled = run("capture", "--resume", input=lines(""))
    assert cancelled.exit_code == 0
    short = run("capture", "--resume", drafts[0].id[:2], input="")
    assert short.exit_code == 2 and "at least 4 characters" in short.output
    assert run("capture", input="").exit_code == 2


# ------------------------------------------------------------------------- pipes


@pytest.mark.parametrize(
    "args", [["capture", "--help"], ["--help"], ["forms", "validate", "forms/consent.md"]]
)
def test_a_reader_that_stops_reading_is_no_error(args: list[str]) -> None:
    """`fieldkit … --help | head`: no "Error: Broken pipe", no traceback."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    script = Path(sys.executable).with_name("fieldkit")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "fieldkit.cli"]
    proc = subprocess.Popen(
        [*command, *args], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=30)
    proc.stderr.close()
    assert "Error" not in stderr and "Traceback" not in stderr and "Exception" not in stderr
