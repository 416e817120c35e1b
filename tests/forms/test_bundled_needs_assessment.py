"""needs_assessment: anonymous community survey, awareness counts, disclosure; fieldkit and ODK."""

from __future__ import annotations

import pytest
from bundled_support import HEADER, Scenario, check, odk_outcomes, run_fieldkit, scenario

FORM = "needs_assessment"
INTERVIEW = {**HEADER, "session_type": "individual_interview", "agrees": "yes"}
SECTIONS = (
    "settlement_type",
    "work_availability",
    "youth_leaving",
    "recruiter_types",
    "children_out_of_school",
    "households_at_risk",
    "vulnerable_groups",
    "heard_of_trafficking",
    "services_available",
    "protective_assets",
    "suspicious_offers_count",
)

SCENARIOS: list[Scenario] = [
    scenario(
        "awareness-event-counts-only",
        {**HEADER, "session_type": "awareness_event", "awareness_reached": "85"},
        expect={"awareness_reached": "85"},
        hidden=("agrees", "own_experience", *SECTIONS),
        complete=True,
    ),
    scenario(
        "awareness-count-cannot-be-negative",
        {**HEADER, "session_type": "awareness_event", "awareness_reached": "-3"},
        invalid=("awareness_reached",),
    ),
    scenario(
        "interview-asks-everything",
        {**INTERVIEW, "respondent_role": "teacher"},
        expect={"awareness_reached": ""},
        shown=(*SECTIONS, "own_experience", "respondent_sex"),
        hidden=("awareness_reached", "referral_card_note", "wants_screening"),
        complete=True,
    ),
    scenario(
        "declined-asks-nothing",
        {**HEADER, "session_type": "individual_interview", "agrees": "no"},
        hidden=(*SECTIONS, "respondent_role", "own_experience"),
        complete=True,
    ),
    scenario(
        "group-discussion-has-no-disclosure-or-profile",
        {**HEADER, "session_type": "group_discussion", "agrees": "yes"},
        shown=SECTIONS,
        hidden=("own_experience", "respondent_sex", "respondent_age_band"),
    ),
    # The report counts >= 3 warning signs named; "could not name any" counts as none.
    scenario(
        "three-warning-signs",
        {**INTERVIEW, "warning_signs_known": "offer_too_good documents_taken threats_violence"},
        expect={"warning_signs_count": "3"},
    ),
    scenario(
        "no-warning-sign-named",
        {**INTERVIEW, "warning_signs_known": "none"},
        expect={"warning_signs_count": "0"},
    ),
    scenario(
        "none-with-a-sign-is-invalid",
        {**INTERVIEW, "warning_signs_known": "cannot_leave none"},
        invalid=("warning_signs_known",),
    ),
    scenario(
        "dont-know-with-an-answer-is-invalid",
        {**INTERVIEW, "service_barriers": "cost dont_know"},
        invalid=("service_barriers",),
    ),
    scenario(
        "report-channels-only-if-would-report",
        {**INTERVIEW, "would_report": "no"},
        hidden=("report_to",),
    ),
    # Disclosure: referral card and an offer of a separate, consented screening.
    scenario(
        "disclosure-shows-referral-card",
        {**INTERVIEW, "own_experience": "yes"},
        shown=("referral_card_note", "wants_screening"),
        hidden=("screening_offer_note",),
    ),
    scenario(
        "disclosure-accepts-separate-screening",
        {
            **INTERVIEW,
            "respondent_role": "community_member",
            "own_experience": "yes",
            "wants_screening": "yes",
        },
        shown=("screening_offer_note",),
        complete=True,
    ),
    scenario(
        "disclosure-prefer-not-shows-nothing",
        {**INTERVIEW, "own_experience": "prefer_not"},
        hidden=("referral_card_note", "wants_screening"),
    ),
    scenario(
        "counts-are-bounded",
        {**INTERVIEW, "lost_contact_count": "4", "children_left_count": "20000"},
        expect={"lost_contact_count": "4"},
        invalid=("children_left_count",),
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
