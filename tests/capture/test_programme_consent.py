"""Shelter stays and legal outcomes link to a person's case by case code, and the person's
consent on file gates them like any form of a case; the hotline, awareness and training forms
need none (their own oral agreement questions gate them, tests/forms)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capture_kit import record_consent

from fieldkit.bundled import bundled_form
from fieldkit.capture import capture_answers
from fieldkit.capture._case_code import _check_character
from fieldkit.errors import ConsentRequired
from fieldkit.forms import load_form
from fieldkit.store import Workspace, create_workspace

PASSPHRASE = "programme consent tests correct horse"
STRANGER = f"CD-5678-{_check_character('CD5678')}"
HEADER = {
    "interviewer_role": "social_worker",
    "site": "KE-0101",
    "interview_date": "2026-01-16",
    "interview_language": "en",
    "interpreter_used": "no",
    "mode": "in_person",
}
PERSON = {"sex": "female", "age_band": "30_38"}
STAY = {
    **HEADER,
    **PERSON,
    "citizenship": "KE",
    "incoming_referral_date": "2026-01-16",
    "referring_organisation": "hotline",
    "services_delivered": ["medical"],
    "stay_status": "in_shelter",
}
OUTCOME = {**HEADER, **PERSON, "complaint_filed": "yes", "investigation_opened": "no",
           "victim_witness_support": "yes"}  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace, _ = create_workspace(tmp_path / "home", passphrase=PASSPHRASE)
    with workspace:
        for name in ("consent", "shelter_stay", "legal_outcome", "hotline_intake"):
            workspace.forms.add(load_form(bundled_form(name)).definition)
        yield workspace


@pytest.mark.parametrize(("form_id", "data"), [("shelter_stay", STAY), ("legal_outcome", OUTCOME)])
def test_linked_to_a_consented_case(ws: Workspace, form_id: str, data: dict[str, Any]) -> None:
    code = record_consent(ws)
    record = capture_answers(ws, form_id, data={**data, "client_pseudonym": code}, source="a")
    assert record.status == "finalized"
    assert code in record.answers.values()


@pytest.mark.parametrize(("form_id", "data"), [("shelter_stay", STAY), ("legal_outcome", OUTCOME)])
def test_no_consent_on_file_is_refused(ws: Workspace, form_id: str, data: dict[str, Any]) -> None:
    with pytest.raises(ConsentRequired) as refused:
        capture_answers(ws, form_id, data={**data, "client_pseudonym": STRANGER}, source="a")
    assert STRANGER not in str(refused.value)
    assert list(ws.records.list(form_id=form_id)) == []


def test_a_hotline_call_needs_no_case(ws: Workspace) -> None:
    data = {**HEADER, "mode": "phone", "contact_hour": "22", "channel": "phone_call",
            "caller_type": "anonymous", "caller_agrees": "no"}  # fmt: skip
    record = capture_answers(ws, "hotline_intake", data=data, source="a")
    assert record.status == "finalized"
