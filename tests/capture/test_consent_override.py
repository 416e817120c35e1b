"""The consent gate's legal-basis override (DOMAIN §3) with the bundled referral form.

The referral's settings carry ``consent_override`` = ``legal_basis``: with no consent on file
for the case it still starts (with a notice), and it finalizes only when the case's consent
covers it (the receiving agency among the partners agreed to) or ``legal_basis`` holds
child_protection or imminent_danger.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capture_kit import ScriptedTerminal, record_consent

from fieldkit.bundled import bundled_form
from fieldkit.capture import capture_answers, resume_interview, start_interview
from fieldkit.capture._answers_file import fill_session
from fieldkit.capture._case_code import _check_character
from fieldkit.capture._consent import check_consent_to_start, consent_override
from fieldkit.errors import ConsentRequired
from fieldkit.forms import FormSession, load_form
from fieldkit.store import Workspace, create_workspace

PASSPHRASE = "consent override tests correct horse"
# A code of fieldkit's shape that no consent on these laptops holds.
STRANGER = f"CD-5678-{_check_character('CD5678')}"

# A referral without consent to share: share_consent = not_recorded asks for legal_basis.
REFERRAL: dict[str, Any] = {
    "interviewer_role": "social_worker",
    "site": "KE-0101",
    "interview_date": "2026-01-16",
    "interview_language": "en",
    "interpreter_used": "no",
    "mode": "in_person",
    "client_pseudonym": STRANGER,
    "sex": "female",
    "age_band": "9_17",
    "citizenship": "KE",
    "referral_date": "2026-01-16",
    "service_types": ["shelter"],
    "receiving_agency": "child_protection",
    "urgency": "emergency",
    "shared_data": ["service_needs"],
    "share_consent": "not_recorded",
    "send_now": "no",
    "safe_contact_method": "through_worker",
    "due_date": "2026-01-17",
}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace, _ = create_workspace(tmp_path / "home", passphrase=PASSPHRASE)
    with workspace:
        for name in ("consent", "referral", "adult_screening"):
            workspace.forms.add(load_form(bundled_form(name)).definition)
        yield workspace


def referral(**changes: Any) -> dict[str, Any]:
    data = dict(REFERRAL)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def finalized(ws: Workspace, form_id: str) -> list[Any]:
    return [r for r in ws.records.list(form_id=form_id) if r.status != "draft"]


def leaf(record: Any, name: str) -> str:
    values = [v for p, v in record.answers.items() if p.rsplit("/", 1)[-1] == name]
    assert len(values) == 1, name
    return str(values[0])


def test_the_bundled_referral_names_its_override(ws: Workspace) -> None:
    assert consent_override(ws.forms.get("referral").form()) == "legal_basis"
    assert consent_override(ws.forms.get("adult_screening").form()) is None


def test_no_consent_and_no_basis_is_refused_and_nothing_saved(ws: Workspace) -> None:
    with pytest.raises(ConsentRequired) as refused:
        capture_answers(ws, "referral", data=referral(legal_basis="none"), source="r.json")
    message = str(refused.value)
    assert "no finalized consent on this laptop for this case code" in message
    assert "legal_basis" in message and "check the code on the person's card" in message
    assert STRANGER not in message  # the case code never reaches a message (DOMAIN §5)
    assert list(ws.records.list(form_id="referral")) == []


@pytest.mark.parametrize(
    ("basis", "age_band"),
    [("child_protection", "9_17"), ("imminent_danger", "30_38")],
)
def test_a_recorded_legal_basis_stands_in_for_consent(
    ws: Workspace, basis: str, age_band: str
) -> None:
    data = referral(legal_basis=basis, legal_basis_approved_by="supervisor", age_band=age_band,
                    send_now="yes")  # fmt: skip
    record = capture_answers(ws, "referral", data=data, source="r.json")
    assert record.status == "finalized"
    assert leaf(record, "legal_basis") == basis
    assert leaf(record, "can_send") == "yes"
    # The override is the referral's alone: the screening stays closed for that case.
    with pytest.raises(ConsentRequired):
        check_consent_to_start(ws, ws.forms.get("adult_screening").form(), code=STRANGER)


def test_consent_must_be_for_the_same_person_and_the_agency(ws: Workspace) -> None:
    code = record_consent(ws)
    # A consent on file for another case does not cover this one without a basis.
    with pytest.raises(ConsentRequired, match="for this case code and no legal basis"):
        capture_answers(ws, "referral", data=referral(legal_basis="none"), source="r.json")
    # The case's consent lists the NGO shelter: no basis needed.
    ok = referral(client_pseudonym=code, age_band="21_23", share_consent="yes",
                  receiving_agency="ngo_shelter")  # fmt: skip
    record = capture_answers(ws, "referral", data=ok, source="r.json")
    assert leaf(record, "client_pseudonym") == code
    assert leaf(record, "legal_basis") == ""
    # The worker's own "consent covers this" is not enough: the police are not listed.
    police = referral(client_pseudonym=code, age_band="21_23", share_consent="yes",
                      receiving_agency="police_atu", send_now="yes")  # fmt: skip
    with pytest.raises(ConsentRequired) as refused:
        capture_answers(ws, "referral", data=police, source="r.json")
    assert "does not list the agency 'police_atu' (receiving_agency)" in str(refused.value)
    assert code not in str(refused.value)
    # A listed agency with share_consent = no and no basis: the gate lets it finalize; the
    # form itself keeps it unsendable (can_send = no).
    kept = referral(client_pseudonym=code, age_band="21_23", share_consent="no",
                    legal_basis="none", send_now="no", receiving_agency="legal_aid")  # fmt: skip
    pending = capture_answers(ws, "referral", data=kept, source="r.json")
    assert leaf(pending, "can_send") == "no"
    assert leaf(pending, "referral_status") == "pending"
    assert len(finalized(ws, "referral")) == 2


def test_police_with_a_legal_basis_is_allowed(ws: Workspace) -> None:
    code = record_consent(ws, age_band="30_38")
    data = referral(client_pseudonym=code, age_band="30_38", receiving_agency="police_atu",
                    share_consent="no", legal_basis="imminent_danger",
                    legal_basis_approved_by="supervisor", send_now="yes")  # fmt: skip
    record = capture_answers(ws, "referral", data=data, source="r.json")
    assert leaf(record, "can_send") == "yes"


def test_interview_asks_the_case_first_and_says_what_is_missing(ws: Workspace) -> None:
    with ScriptedTerminal(STRANGER, ":q") as terminal:
        outcome = start_interview(ws, "referral", terminal=terminal)
    assert outcome.status == "quit"
    text = terminal.text
    assert "First the case code" in text
    assert f"No consent on this laptop for case code {STRANGER}" in text
    assert "finalized with a legal basis recorded (legal_basis)" in text
    # Accepted with that notice: the form goes on from its first question.
    assert text.rindex("Your role") > text.rindex("First the case code")
    assert terminal.prompts[-1] == "number > "


def _draft(ws: Workspace, data: dict[str, Any], *, then: dict[str, str] | None = None) -> str:
    """A referral draft holding ``data`` (then ``then`` set by name), as an interview leaves it."""
    version = ws.forms.get("referral")
    form = version.form()
    session = FormSession(form)
    fill_session(form, session, data, source="draft")
    for name, value in (then or {}).items():
        (node,) = form.named(name)
        session.set(node.path, value)
    draft = ws.records.create_draft(
        form_id=version.form_id, form_version=version.version, answers=session.answers()
    )
    return draft.id


def test_interactive_finalize_needs_consent_or_a_basis(ws: Workspace) -> None:
    refused = _draft(ws, referral(legal_basis="none", send_now="no"))
    with ScriptedTerminal(":review", "f") as terminal:
        outcome = resume_interview(ws, refused, terminal=terminal)
    assert outcome.status == "quit"
    text = terminal.text
    assert "no legal basis is recorded (legal_basis)" in text
    # The reason is printed after the review table, right above the prompt: never scrolled off.
    assert text.rindex("no legal basis is recorded") > text.rindex("Computed by the form")
    assert ws.records.get(refused).status == "draft"

    allowed = _draft(
        ws, referral(legal_basis="child_protection", legal_basis_approved_by="supervisor")
    )
    with ScriptedTerminal(":review", "f") as terminal:
        outcome = resume_interview(ws, allowed, terminal=terminal)
    assert outcome.status == "finalized"
    assert ws.records.get(allowed).status == "finalized"


def test_a_basis_left_behind_by_a_later_change_does_not_count(ws: Workspace) -> None:
    # A basis was chosen, then share_consent changed to yes: legal_basis is no longer relevant
    # and the finalized record would hold no basis, while there is no consent on file.
    data = referral(legal_basis="imminent_danger", legal_basis_approved_by="supervisor",
                    age_band="30_38")  # fmt: skip
    stale = _draft(ws, data, then={"share_consent": "yes"})
    assert "imminent_danger" in ws.records.get(stale).answers.values()
    with ScriptedTerminal(":review", "f") as terminal:
        outcome = resume_interview(ws, stale, terminal=terminal)
    assert outcome.status == "quit"
    assert "no legal basis is recorded" in terminal.text
    assert ws.records.get(stale).status == "draft"


def test_an_override_naming_no_question_keeps_the_gate_shut(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "gated.md"
    source.write_text(
        "| survey |\n"
        "| | type | name | label |\n"
        "| | text | client_pseudonym | Case code |\n"
        "| | select_one basis | basis | Basis |\n\n"
        "| choices |\n"
        "| | list_name | name | label |\n"
        "| | basis | none | None |\n"
        "| | basis | child_protection | Child protection |\n\n"
        "| settings |\n"
        "| | form_id | version | requires_consent | consent_override |\n"
        "| | gated | 1 | yes | legal_basis |\n",
        encoding="utf-8",
    )
    ws.forms.add(load_form(source).definition)
    form = ws.forms.get("gated").form()
    assert consent_override(form) is None
    with ScriptedTerminal(STRANGER, ":q") as terminal:
        with pytest.raises(ConsentRequired, match="needs a finalized consent record"):
            start_interview(ws, "gated", terminal=terminal)
    # With someone's consent on file the form starts, and the stranger is refused where typed.
    record_consent(ws)
    with ScriptedTerminal(STRANGER, ":q") as terminal:
        start_interview(ws, "gated", terminal=terminal)
    assert "Check the person's card" in terminal.text
    data = {"client_pseudonym": STRANGER, "basis": "child_protection"}
    with pytest.raises(ConsentRequired):
        capture_answers(ws, "gated", data=data, source="g.json")
