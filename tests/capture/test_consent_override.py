"""The consent gate's legal-basis override (DOMAIN §3) with the bundled referral form.

The referral's settings carry ``consent_override`` = ``legal_basis``: with no consent on file
the form still starts (with a notice), and it finalizes only when consent is on file for the
person or ``legal_basis`` holds child_protection or imminent_danger.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, RenderableType

from fieldkit.bundled import bundled_form
from fieldkit.capture import (
    QuickExit,
    capture_answers,
    resume_interview,
    start_interview,
)
from fieldkit.capture._answers_file import fill_session
from fieldkit.capture._consent import check_consent_to_start, consent_override
from fieldkit.errors import ConsentRequired
from fieldkit.forms import FormSession, load_form
from fieldkit.store import Workspace, create_workspace

PASSPHRASE = "consent override tests correct horse"

CONSENT: dict[str, Any] = {
    "interviewer_role": "social_worker",
    "site": "KE-0101",
    "interview_date": "2026-01-15",
    "interview_language": "en",
    "interpreter_used": "no",
    "mode": "in_person",
    "safe_private": "yes",
    "safe_monitored": "no",
    "safe_time": "yes",
    "checklist_read": ["purpose", "data_use", "skip_stop", "limits"],
    "understood": "yes",
    "age_band": "21_23",
    "consent_interview": "yes",
    "consent_store": "yes",
    "consent_contact": "no",
    "consent_share": "yes",
    "share_partners": ["ngo_shelter"],
    "consent_stats": "yes",
    "client_pseudonym": "AB-1234",
}

# A referral without consent to share: share_consent = not_recorded asks for legal_basis.
REFERRAL: dict[str, Any] = {
    "interviewer_role": "social_worker",
    "site": "KE-0101",
    "interview_date": "2026-01-16",
    "interview_language": "en",
    "interpreter_used": "no",
    "mode": "in_person",
    "client_pseudonym": "CD-5678",
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


class ScriptedTerminal:
    """A Terminal that answers from a list and keeps what was shown as plain text."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.console = Console(record=True, width=200, file=open("/dev/null", "w"))  # noqa: SIM115

    def show(self, *objects: RenderableType) -> None:
        for obj in objects:
            self.console.print(obj)

    def ask(self, prompt: str) -> str:
        self.console.print(prompt, markup=False, highlight=False)
        if not self.answers:
            raise QuickExit
        return self.answers.pop(0)

    def clear(self) -> None:
        pass

    @property
    def text(self) -> str:
        return " ".join(self.console.export_text(clear=False).split())

    def close(self) -> None:
        self.console.file.close()


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
    assert "legal_basis" in message and "fieldkit capture consent" in message
    assert "CD-5678" not in message  # the pseudonym never reaches a message (DOMAIN §5)
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
    # The override is the referral's alone: the screening stays closed without consent.
    with pytest.raises(ConsentRequired):
        check_consent_to_start(ws, ws.forms.get("adult_screening").form())


def test_consent_must_be_for_the_same_person(ws: Workspace) -> None:
    capture_answers(ws, "consent", data=CONSENT, source="c.json")
    # Consent on file for AB-1234 does not cover CD-5678 without a basis.
    with pytest.raises(ConsentRequired, match="this client pseudonym and no legal basis"):
        capture_answers(ws, "referral", data=referral(legal_basis="none"), source="r.json")
    # AB-1234, whose consent covers the agency: no basis needed.
    ok = referral(client_pseudonym="AB-1234", age_band="21_23", share_consent="yes",
                  receiving_agency="ngo_shelter")  # fmt: skip
    record = capture_answers(ws, "referral", data=ok, source="r.json")
    assert leaf(record, "client_pseudonym") == "AB-1234"
    assert leaf(record, "legal_basis") == ""
    # AB-1234 with consent on file but share_consent = no and no basis: consent is on file,
    # so the gate lets it finalize; the form itself keeps it unsendable (can_send = no).
    kept = referral(client_pseudonym="AB-1234", age_band="21_23", share_consent="no",
                    legal_basis="none", send_now="no")  # fmt: skip
    pending = capture_answers(ws, "referral", data=kept, source="r.json")
    assert leaf(pending, "can_send") == "no"
    assert leaf(pending, "referral_status") == "pending"
    assert len(finalized(ws, "referral")) == 2


def test_interview_starts_with_a_notice(ws: Workspace) -> None:
    terminal = ScriptedTerminal(":q")
    outcome = start_interview(ws, "referral", terminal=terminal)
    terminal.close()
    assert outcome.status == "quit"
    assert "No consent is on file on this laptop" in terminal.text
    assert "legal basis recorded (legal_basis)" in terminal.text
    assert "Question 1 of" in terminal.text
    # With a consent on file (anyone's) there is nothing to say at the start.
    capture_answers(ws, "consent", data=CONSENT, source="c.json")
    terminal = ScriptedTerminal(":q")
    start_interview(ws, "referral", terminal=terminal)
    terminal.close()
    assert "No consent is on file" not in terminal.text


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
    terminal = ScriptedTerminal(":review", "f")
    outcome = resume_interview(ws, refused, terminal=terminal)
    terminal.close()
    assert outcome.status == "quit"
    assert "no legal basis recorded (legal_basis)" in terminal.text
    assert ws.records.get(refused).status == "draft"

    allowed = _draft(
        ws, referral(legal_basis="child_protection", legal_basis_approved_by="supervisor")
    )
    terminal = ScriptedTerminal(":review", "f")
    outcome = resume_interview(ws, allowed, terminal=terminal)
    terminal.close()
    assert outcome.status == "finalized"
    assert ws.records.get(allowed).status == "finalized"


def test_a_basis_left_behind_by_a_later_change_does_not_count(ws: Workspace) -> None:
    # A basis was chosen, then share_consent changed to yes: legal_basis is no longer relevant
    # and the finalized record would hold no basis, while there is no consent on file.
    data = referral(legal_basis="imminent_danger", legal_basis_approved_by="supervisor",
                    age_band="30_38")  # fmt: skip
    stale = _draft(ws, data, then={"share_consent": "yes"})
    assert "imminent_danger" in ws.records.get(stale).answers.values()
    terminal = ScriptedTerminal(":review", "f")
    outcome = resume_interview(ws, stale, terminal=terminal)
    terminal.close()
    assert outcome.status == "quit"
    assert "no legal basis recorded" in terminal.text
    assert ws.records.get(stale).status == "draft"


def test_an_override_naming_no_question_keeps_the_gate_shut(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "gated.md"
    source.write_text(
        "| survey |\n"
        "| | type | name | label |\n"
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
    terminal = ScriptedTerminal()
    with pytest.raises(ConsentRequired, match="needs a finalized consent record"):
        start_interview(ws, "gated", terminal=terminal)
    terminal.close()
    with pytest.raises(ConsentRequired):
        capture_answers(ws, "gated", data={"basis": "child_protection"}, source="g.json")
