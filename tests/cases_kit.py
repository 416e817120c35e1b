"""People followed over time, made through capture as a worker would: consent, a screening,
a referral (tests/ is on sys.path through its conftest)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from consent_answers import consent

from fieldkit.capture import capture_answers, case_code_of
from fieldkit.demo import synthetic_answers
from fieldkit.store import Record, Workspace

FORMS = ("consent", "adult_screening", "youth_screening", "referral", "follow_up")


def add_forms(ws: Workspace) -> None:
    """The bundled forms a case needs."""
    from fieldkit.bundled import bundled_form
    from fieldkit.forms import load_form

    for name in FORMS:
        ws.forms.add(load_form(bundled_form(name)).definition)


def _filled(ws: Workspace, form_id: str, fixed: dict[str, Any], seed: int) -> dict[str, Any]:
    form = ws.forms.get(form_id).form()
    known = {k: v for k, v in fixed.items() if form.named(k)}
    data = synthetic_answers(form, rng=random.Random(seed), fixed=known, today=date.today())
    return {**data, **known}


def capture(ws: Workspace, form_id: str, fixed: dict[str, Any], *, seed: int = 7) -> Record:
    """One finalized record of a bundled form with ``fixed`` answers, the rest invented."""
    data = _filled(ws, form_id, fixed, seed)
    return capture_answers(ws, form_id, data=data, source=f"{form_id}.json")


def person(
    ws: Workspace,
    *,
    day: str = "2026-01-15",
    result: str = "positive",
    marker: str | None = None,
    referral: bool = True,
) -> tuple[str, Record | None]:
    """A consenting adult screened on ``day`` (a positive screen by default), and a
    pending referral to legal aid; the case code and the referral record."""
    given = consent(
        interview_date=day,
        consent_contact="yes",
        contact_method="phone_call",
        contact_times="weekday_morning",
    )
    if marker is not None:
        given["contact_detail"] = marker
    record = capture(ws, "consent", given)
    code = case_code_of(record)
    assert code
    core = "yes" if result == "positive" else "no"
    screening = {
        "client_pseudonym": code,
        "interview_date": day,
        "site": "KE-0101",
        "cannot_leave_now": "no",
        "threatened_now": "no",
        "injured_now": "no",
        "controller_nearby": "no",
        "deceived_work": core,
        "forced_work": "no",
        "restricted_movement": "no",
        "documents_held": "no",
        "pay_withheld": "no",
        "debt_bondage": "no",
        "threats": "no",
        "violence": "no",
        "commercial_sex": "no",
    }
    capture(ws, "adult_screening", screening)
    if not referral:
        return code, None
    ref = capture(
        ws,
        "referral",
        {
            "client_pseudonym": code,
            "interview_date": day,
            "referral_date": day,
            "due_date": day,
            "service_types": "legal",
            "receiving_agency": "legal_aid",
            "urgency": "routine",
            "legal_basis": "none",
            "share_consent": "yes",
            "referral_status": "pending",
            "send_now": "yes",
        },
    )
    return code, ref
