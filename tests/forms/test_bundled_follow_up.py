"""follow_up: due dates, overdue, urgent re-contact and closure, on fieldkit and on ODK."""

from __future__ import annotations

import pytest
from bundled_support import HEADER, Scenario, check, odk_outcomes, run_fieldkit, scenario

FORM = "follow_up"
BASE = {**HEADER, "client_pseudonym": "AB-1234-G", "case_start_date": "2025-01-15"}
SECTIONS = ("work_status", "has_documents", "wellbeing", "trafficker_recontact", "satisfaction")


def visit(month: str = "3", visit_date: str = "2025-04-16", **more: str) -> dict[str, str]:
    """A visit that took place, every risk question answered no unless overridden."""
    answers = {
        **BASE,
        "visit_month": month,
        "visit_status": "done",
        "visit_date": visit_date,
        "feels_safe": "yes",
        "trafficker_recontact": "no",
        "new_exploitation": "no",
    }
    answers.update(more)
    return answers


SCENARIOS: list[Scenario] = [
    # Target: case opening + months of 30.44 days; due (last day on time): target + 14 days.
    scenario(
        "due-1-month",
        {**BASE, "visit_month": "1"},
        expect={"target_date": "2025-02-14", "due_date": "2025-02-28"},
    ),
    scenario(
        "due-3-months",
        {**BASE, "visit_month": "3"},
        expect={"target_date": "2025-04-16", "due_date": "2025-04-30"},
    ),
    scenario(
        "due-6-months",
        {**BASE, "visit_month": "6"},
        expect={"target_date": "2025-07-17", "due_date": "2025-07-31"},
    ),
    scenario(
        "due-12-months-across-a-year",
        {**BASE, "case_start_date": "2024-11-01", "visit_month": "12"},
        expect={"target_date": "2025-11-01", "due_date": "2025-11-15"},
    ),
    scenario(
        "due-date-across-february",
        {**BASE, "case_start_date": "2025-01-31", "visit_month": "1"},
        expect={"target_date": "2025-03-02", "due_date": "2025-03-16"},
    ),
    scenario(
        "no-due-date-without-month",
        BASE,
        expect={"target_date": "", "due_date": ""},
        hidden=("due_note",),
    ),
    scenario(
        "visit-on-time",
        {**visit(), "case_closed": "no"},
        expect={"overdue": "no", "urgent": "no", "referral_needed": "no"},
        shown=SECTIONS,
        hidden=("missed_reason", "emergency_note"),
        complete=True,
    ),
    scenario(
        "visit-on-the-due-date-is-on-time",
        visit(visit_date="2025-04-30"),
        expect={"overdue": "no"},
    ),
    scenario(
        "visit-after-the-due-date-is-overdue",
        visit(visit_date="2025-05-01"),
        expect={"overdue": "yes"},
    ),
    # A missed visit is overdue; nothing about the person is asked.
    scenario(
        "missed-visit",
        {
            **BASE,
            "visit_month": "6",
            "visit_status": "missed",
            "missed_reason": "unreachable",
            "case_closed": "no",
        },
        expect={"overdue": "yes", "visit_date": "", "urgent": "no"},
        hidden=("visit_date", *SECTIONS),
        complete=True,
    ),
    scenario(
        "missed-after-a-date-was-typed-drops-the-date",
        visit(),
        then={"visit_status": "missed"},
        expect={"visit_date": "", "trafficker_recontact": "", "overdue": "yes"},
    ),
    # Re-contact by traffickers or new exploitation: urgent, emergency contacts, new referral.
    scenario(
        "trafficker-recontact-urgent",
        visit(trafficker_recontact="yes"),
        expect={"urgent": "yes", "referral_needed": "yes"},
        shown=("emergency_note", "referral_note"),
    ),
    scenario(
        "new-exploitation-urgent",
        visit(new_exploitation="yes"),
        expect={"urgent": "yes"},
        shown=("emergency_note",),
    ),
    scenario(
        "urgent-case-cannot-be-closed",
        visit(new_exploitation="yes", case_closed="yes", close_reason="goals_met"),
        invalid=("case_closed",),
    ),
    scenario(
        "recontact-prefer-not-is-not-urgent-but-flags-safety",
        visit(trafficker_recontact="prefer_not", feels_safe="prefer_not"),
        expect={"urgent": "no"},
        shown=("unsafe_note",),
        hidden=("emergency_note",),
    ),
    scenario(
        "new-needs-make-a-referral",
        visit(new_needs="legal economic"),
        expect={"referral_needed": "yes", "urgent": "no"},
        shown=("referral_note",),
    ),
    scenario(
        "no-new-needs",
        visit(new_needs="none"),
        expect={"referral_needed": "no"},
        hidden=("referral_note",),
    ),
    scenario(
        "none-with-other-needs-is-invalid",
        visit(new_needs="legal none", services_received="none shelter"),
        invalid=("new_needs", "services_received"),
    ),
    scenario(
        "closing-needs-a-reason",
        visit(case_closed="yes"),
        shown=("close_reason",),
    ),
    scenario(
        "closed-when-goals-met",
        {**visit(case_closed="yes", close_reason="goals_met")},
        expect={"case_closed": "yes", "urgent": "no"},
        complete=True,
    ),
    scenario(
        "visit-before-case-opened",
        visit(visit_date="2024-12-01"),
        invalid=("visit_date",),
    ),
]


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.id)
def test_scenario_on_fieldkit(sc: Scenario) -> None:
    check(run_fieldkit(FORM, sc), sc, engine="fieldkit")


@pytest.fixture(scope="module")
def odk(request: pytest.FixtureRequest) -> dict[str, dict]:
    return odk_outcomes(request, FORM, SCENARIOS)


@pytest.mark.parity
@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.id)
def test_scenario_on_odk(sc: Scenario, odk: dict[str, dict]) -> None:
    check(odk[sc.id], sc, engine="odk")
