"""The bundled forms through the CLI an interviewer's scripts use: forms validate and forms eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bundled_support import HEADER, PERSON
from typer.testing import CliRunner

from fieldkit.bundled import FORM_NAMES, bundled_form
from fieldkit.cli import app

# One decisive case per form: the answers, then the decision fields expected.
CASES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "consent": (
        {**HEADER, "safe_private": "yes", "safe_monitored": "prefer_not"},
        {"route": "stop", "consent_given": "no", "stop_reason": "unsafe"},
    ),
    "needs_assessment": (
        {**HEADER, "session_type": "awareness_event", "awareness_reached": "40"},
        {"awareness_reached": "40", "agrees": ""},
    ),
    "adult_screening": (
        {
            **HEADER,
            **PERSON,
            "forced_work": "prefer_not",
            "threats": "prefer_not",
            "deceived_work": "no",
            "restricted_movement": "no",
            "documents_held": "no",
            "pay_withheld": "no",
            "debt_bondage": "no",
            "violence": "no",
            "commercial_sex": "no",
            "controller_nearby": "yes",
        },
        {"screen_result": "inconclusive", "urgent": "yes"},
    ),
    "youth_screening": (
        {
            **HEADER,
            **PERSON,
            "age_band": "unknown",
            "presumed_minor": "yes",
            "youth_agrees": "yes",
            "sex_for_value": "yes",
        },
        {"child_trafficking_flag": "yes", "screen_result": "positive", "is_minor": "yes"},
    ),
    "referral": (
        {**HEADER, **PERSON, "share_consent": "not_recorded", "legal_basis": "none"},
        {"can_send": "no"},
    ),
    "follow_up": (
        {
            **HEADER,
            "client_pseudonym": "AB-1234-G",
            "case_start_date": "2025-01-15",
            "visit_month": "6",
            "visit_status": "done",
            "visit_date": "2025-07-20",
            "trafficker_recontact": "yes",
        },
        {"target_date": "2025-07-17", "due_date": "2025-07-31", "overdue": "no", "urgent": "yes"},
    ),
    "hotline_intake": (
        {
            **HEADER,
            "contact_hour": "3",
            "channel": "phone_call",
            "caller_type": "witness",
            "caller_agrees": "yes",
            "danger_now": "yes",
            "action_taken": "emergency_dispatch",
        },
        {"urgent": "yes", "referred": "yes"},
    ),  # fmt: skip
    "awareness_session": (
        {**HEADER, "reached_female_minor": "4", "reached_male_adult": "6", "reached_other": "1"},
        {"reached_total": "11"},
    ),
    "training_test": (
        {**HEADER, "trainee_agrees": "yes", "score_identification": "3", "score_referral": "4"},
        {"areas_scored": "2", "score_percent": "70"},
    ),
    "shelter_stay": (
        {
            **HEADER,
            **PERSON,
            "incoming_referral_date": "2025-06-01",
            "stay_status": "exited",
            "exit_date": "2025-07-01",
            "exit_destination": "left_without_notice",
        },
        {"length_of_stay_days": "30", "safe_exit": "no"},
    ),  # fmt: skip
    "legal_outcome": (
        {
            **HEADER,
            "complaint_filed": "dont_know",
            "investigation_opened": "yes",
            "prosecution_started": "yes",
            "verdict": "conviction",
        },
        {"legal_stage": "conviction"},
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", FORM_NAMES)
def test_forms_validate_accepts_the_bundled_form(name: str) -> None:
    done = CliRunner().invoke(app, ["forms", "validate", str(bundled_form(name))])
    assert done.exit_code == 0, done.output
    assert name in done.output


@pytest.mark.parametrize("name", FORM_NAMES)
def test_forms_eval_reaches_the_decision(name: str, tmp_path: Path) -> None:
    answers, expected = CASES[name]
    steps = tmp_path / "steps.json"
    steps.write_text(
        json.dumps([{"set": key, "value": value} for key, value in answers.items()]),
        encoding="utf-8",
    )
    done = CliRunner().invoke(
        app,
        [
            "forms",
            "eval",
            str(bundled_form(name)),
            "--steps",
            str(steps),
            "--json",
            "--now",
            "2026-11-28T12:00:00+03:00",
        ],
    )
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["errors"] == []
    values = {node["name"]: node["value"] for node in result["nodes"]}
    assert {key: values[key] for key in expected} == expected
    assert all(node["path"].startswith("/data/") for node in result["nodes"])
