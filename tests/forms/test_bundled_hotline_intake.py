"""hotline_intake: a declined call is a count only; urgency and "referred", on fieldkit and ODK."""

from __future__ import annotations

import pytest
from bundled_support import HEADER, Scenario, check, odk_outcomes, run_fieldkit, scenario

FORM = "hotline_intake"
CALL = {**HEADER, "mode": "phone", "contact_hour": "14", "channel": "phone_call"}
CONCERN = {
    "caller_type": "family",
    "caller_agrees": "yes",
    "concern_type": "forced_labour",
    "concern_country": "KE",
    "minor_involved": "no",
}


def call(**more: str) -> dict[str, str]:
    return {**CALL, **CONCERN, **more}


SCENARIOS: list[Scenario] = [
    # The caller's agreement gates everything beyond the anonymous count of the call.
    scenario(
        "declined-call-is-a-count-only",
        {**CALL, "caller_type": "anonymous", "caller_agrees": "no"},
        expect={"referred": "", "urgent": ""},
        shown=("count_only_note",),
        hidden=("concern_type", "urgency", "action_taken", "callback_number", "emergency_note"),
        complete=True,
    ),
    scenario(
        "advice-only-is-not-referred",
        call(urgency="routine", action_taken="advice", follow_up_needed="no"),
        expect={"referred": "no", "urgent": "no"},
        hidden=("count_only_note", "referred_organisation", "callback_agreed", "emergency_note"),
        complete=True,
    ),
    scenario(
        "referral-to-police-is-referred",
        call(urgency="urgent", action_taken="advice referral_police", follow_up_needed="no"),
        expect={"referred": "yes"},
        complete=True,
    ),
    scenario(
        "referral-to-a-partner-names-it",
        call(urgency="urgent", action_taken="referral_partner", follow_up_needed="no"),
        expect={"referred": "yes"},
        shown=("referred_organisation",),
    ),
    # A skipped action is never a "no": the call is neither referred nor not referred.
    scenario(
        "no-action-recorded-is-not-a-no",
        call(urgency="routine"),
        expect={"referred": ""},
    ),
    scenario(
        "none-cannot-go-with-an-action",
        call(urgency="routine", action_taken="advice none"),
        invalid=("action_taken",),
    ),
    scenario(
        "danger-now-cannot-be-routine",
        call(danger_now="yes", urgency="routine"),
        invalid=("urgency",),
        expect={"urgent": "yes"},
        shown=("emergency_note",),
    ),
    scenario(
        "danger-declined-is-not-urgent-by-itself",
        call(danger_now="prefer_not", urgency="routine", action_taken="advice"),
        expect={"urgent": "no", "referred": "no"},
        hidden=("emergency_note",),
    ),
    scenario(
        "emergency-dispatch-is-urgent-and-referred",
        call(urgency="urgent", action_taken="emergency_dispatch"),
        expect={"urgent": "yes", "referred": "yes"},
        shown=("emergency_note",),
    ),
    scenario(
        "call-back-asks-number-and-times",
        call(
            urgency="routine",
            action_taken="advice",
            follow_up_needed="yes",
            callback_agreed="yes",
            callback_number="0700 000 000",
            callback_times="weekday_evening",
        ),
        shown=("callback_number", "callback_times"),
        complete=True,
    ),
    scenario(
        "call-back-number-is-digits-only",
        call(follow_up_needed="yes", callback_agreed="yes", callback_number="Jane"),
        invalid=("callback_number",),
    ),
    scenario(
        "no-call-back-drops-the-number",
        call(follow_up_needed="yes", callback_agreed="yes", callback_number="0700 000 000"),
        then={"callback_agreed": "no"},
        expect={"callback_number": ""},
        hidden=("callback_number", "callback_times"),
    ),
    scenario(
        "agreement-withdrawn-hides-the-concern",
        call(urgency="urgent", action_taken="referral_shelter"),
        then={"caller_agrees": "no"},
        expect={"concern_type": "", "referred": "", "urgent": ""},
        hidden=("concern_type", "action_taken"),
    ),
    scenario(
        "district-code-only",
        call(concern_district="Kibera market"),
        invalid=("concern_district",),
    ),
    scenario(
        "hour-is-0-to-23",
        {**CALL, "contact_hour": "24"},
        invalid=("contact_hour",),
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
