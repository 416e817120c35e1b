"""What the interview shows: inert form text, Markdown as styles, lists, emergencies, review."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from capture_kit import ScriptedTerminal, record_consent
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.bundled import bundled_form
from fieldkit.capture import emergency_contacts, resume_interview, start_interview
from fieldkit.capture._choices import ChoiceView, fold
from fieldkit.capture._label import plain_label, styled_label
from fieldkit.forms import load_form
from fieldkit.store import Workspace, create_workspace

PASSPHRASE = "screen tests correct horse battery"
FORMS = Path(__file__).resolve().parent / "forms"
ESC = "\x1b"
PICK = f"{ESC}[2J{ESC}]0;pwned\x07"  # clear the screen, retitle the window, ring
HOSTILE = f"""\
| survey |
| | type | name | label | hint | required | parameters | calculation |
| | select_one fake | pick | Pick one{PICK} **now** | Say *gently*{ESC}[31m [red]x[/red] | yes | | |
| | range | score | How much? | | yes | start=1 end=10 step=1 | |
| | select_one yn | agree | Agree? | | yes | | |
| | begin_repeat | member | Household *member* | | | | |
| | integer | age | Age | | yes | | |
| | end_repeat | member | | | | | |
| | calculate | members | | | | | count(${{member}}) |

| choices |
| | list_name | name | label |
| | fake | a | Passphrase:{ESC}[8m |
| | fake | b | \x9b2J |
| | yn | yes | Yes |
| | yn | no | No |

| settings |
| | form_id | version | form_title |
| | hostile | 1 | Title{ESC}[2J[bold]x |
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("screen")
    workspace, _ = create_workspace(root / "home", passphrase=PASSPHRASE)
    hostile = root / "hostile.md"
    hostile.write_text(HOSTILE, encoding="utf-8")
    with workspace:
        workspace.forms.add(load_form(hostile).definition)
        workspace.forms.add(load_form(FORMS / "codes.md").definition)
        for name in ("consent", "adult_screening"):
            workspace.forms.add(load_form(bundled_form(name)).definition)
        yield workspace


def test_form_text_reaches_the_terminal_inert(ws: Workspace) -> None:
    with ScriptedTerminal("1", "11", "5", "1", ":q") as terminal:
        start_interview(ws, "hostile", terminal=terminal)
    raw = terminal.console.export_text(clear=False, styles=True)
    for bad in (ESC + "[2J", ESC + "]0;", "\x07", "\x9b", ESC + "[8m", ESC + "[31m"):
        assert bad not in raw.replace(ESC + "[0m", "").replace(ESC + "[1m", "")
    text = terminal.text
    assert "Pick one\ufffd[2J\ufffd]0;pwned\ufffd now" in text  # Markdown shown as a style
    assert "[red]x[/red]" in text  # rich markup from a form is text, not a style
    assert "Title\ufffd[2J[bold]x" in text
    # A range error says the range, never the internal field name.
    assert "enter a number from 1 to 10" in text and "'score'" not in text


def test_markdown_subset_as_styles() -> None:
    styled = styled_label("# Safety\nAsk **gently**, _never_ press. [Card](https://x.example)")
    assert styled.plain == "Safety\nAsk gently, never press. Card (https://x.example)"
    spans = {(styled.plain[s.start : s.end], str(s.style)) for s in styled.spans}
    assert ("Safety", "bold") in spans and ("gently", "bold") in spans
    assert ("never", "italic") in spans
    assert plain_label('<span style="color:red">Stop</span> snake_case_name') == (
        "Stop snake_case_name"
    )
    assert plain_label(r"2 \* 3 * 4") == "2 * 3 * 4"


@given(st.text(max_size=60))
def test_any_label_is_inert(text: str) -> None:
    shown = styled_label(text).plain + plain_label(text)
    assert not any(ch in shown for ch in (ESC, "\x07", "\x9b", "\x00"))


def test_a_filter_keeps_the_forms_order_and_ignores_case_and_accents() -> None:
    names = [f"c{n}" for n in range(5000)]
    labels = [f"Place {n} {'Côte' if n % 1000 == 7 else 'x'}" for n in range(5000)]
    view = ChoiceView(names, labels)
    assert view.matches("cote") == [7, 1007, 2007, 3007, 4007]
    view.set_filter("COTE 30")
    assert view.shown == [3007]
    assert view.index_at(1) == 3007 and view.index_at(2) is None
    view.set_filter("")
    page = view.page_of(10)
    assert (page.first, page.last, page.count, page.pages) == (1, 10, 5000, 500)
    view.turn(3, 10)
    assert view.page_of(10).first == 31
    assert fold("Sénégal") == "senegal"
    # Each keystroke of a growing query stays well under the 20 ms budget here too.
    start = time.perf_counter()
    for query in ("p", "pl", "pla", "plac", "place", "place 4", "place 49"):
        view.matches(query)
    assert (time.perf_counter() - start) / 7 < 0.05


def test_a_list_too_long_for_the_screen_is_paged_under_its_question(ws: Workspace) -> None:
    with ScriptedTerminal("2", "1", ">", "ken", "1", ":q", width=80, height=24) as terminal:
        start_interview(ws, "codes", terminal=terminal)
    text = terminal.text
    assert "choices 1–15 of 60 · > next page" in text and "choices 16–30 of 60" in text
    assert "1 of 60 match “ken” · * whole list" in text
    assert "→ Kenya" in text


def test_emergency_note_stands_out_with_the_projects_contacts(ws: Workspace) -> None:
    code = record_consent(ws)
    ws.state.delete("project.emergency_contacts")
    script = (code, "", "2", "", "1", "2", "2", "2", ":q")  # yes to "cannot leave now"
    with ScriptedTerminal(*script) as terminal:
        start_interview(ws, "adult_screening", terminal=terminal)
    assert "URGENT" in terminal.text
    assert "No emergency contacts configured for this project: ask your coordinator." in (
        terminal.text
    )
    ws.state.set(
        "project.emergency_contacts",
        [
            {"label": {"en": "Hotline", "fr": "Ligne d'écoute"}, "contact": "0800 723 253"},
            {"label": "Police", "contact": "112"},
            {"label": f"Bad{ESC}[2J", "contact": f"999{ESC}[8m"},
            {"label": 7, "contact": "wrong shape"},
            "not an object",
        ],
    )
    contacts = emergency_contacts(ws)
    assert [c.contact for c in contacts] == ["0800 723 253", "112", "999\ufffd[8m"]
    assert contacts[0].label("French (fr)") == "Ligne d'écoute"
    assert contacts[1].label("fr") == "Police"
    draft = [r for r in ws.records.list(form_id="adult_screening") if r.status == "draft"][-1]
    with ScriptedTerminal(":j emergency_note", ":q") as terminal:
        resume_interview(ws, draft.id, terminal=terminal)
    text = terminal.text
    assert "⚠" in text and "Emergency contacts" in text
    assert "☎ Hotline 0800 723 253" in text and "☎ Police 112" in text
    assert ESC not in terminal.console.export_text(clear=False)
    with ScriptedTerminal(":lang fr", ":j emergency_note", ":q") as terminal:
        resume_interview(ws, draft.id, terminal=terminal)
    assert "Contacts d'urgence" in terminal.text and "Ligne d'écoute" in terminal.text


def test_review_groups_repeat_entries_and_shows_computed_decisions(ws: Workspace) -> None:
    code = record_consent(ws)
    script = (code, "", "2", "", "1", "2", "2", "2", "1", ":review", ":q")
    with ScriptedTerminal(*script) as terminal:
        start_interview(ws, "adult_screening", terminal=terminal)
    text = terminal.text
    computed = text[text.rindex("Computed by the form") :]
    assert "│ urgent │ yes │" in computed and "│ screen_result │ inconclusive │" in computed
    with ScriptedTerminal("1", "5", "1", "y", "40", "y", "9", "n", ":review", ":q") as terminal:
        start_interview(ws, "hostile", terminal=terminal)
    review = terminal.text[terminal.text.rindex("Review") :]
    assert review.index("Household member 1") < review.index("Household member 2")


def test_required_without_prefer_not_gives_one_consistent_hint(ws: Workspace) -> None:
    with ScriptedTerminal(":pn", ":skip", ":q") as terminal:
        start_interview(ws, "codes", terminal=terminal)
    text = terminal.text
    assert "needs an answer and does not offer “prefer not to answer”" in text
    assert ":skip leaves it empty" not in text  # it would be refused: never suggested


def test_the_interviews_words_follow_the_language(ws: Workspace) -> None:
    code = record_consent(ws)
    with ScriptedTerminal(":lang fr", code, "n", "2", ":review", ":q") as terminal:
        start_interview(ws, "adult_screening", terminal=terminal)
    text = terminal.text
    for french in ("Consentement du", "Entrée = garder ces réponses", "obligatoire", "Relecture"):
        assert french in text, french


def test_a_draft_of_an_older_form_version_says_so(ws: Workspace, tmp_path: Path) -> None:
    with ScriptedTerminal("2", ":save") as terminal:
        saved = start_interview(ws, "codes", terminal=terminal)
    newer = tmp_path / "codes.md"
    newer.write_text(
        (FORMS / "codes.md").read_text(encoding="utf-8").replace("| codes | 1 |", "| codes | 2 |"),
        encoding="utf-8",
    )
    ws.forms.add(load_form(newer).definition)
    with ScriptedTerminal(":q") as terminal:
        resume_interview(ws, str(saved.record_id), terminal=terminal)
    assert "started on version 1 of the form; version 2 is now on this laptop" in terminal.text
