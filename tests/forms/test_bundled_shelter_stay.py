"""shelter_stay: linked by case code; exit dates, length of stay and a safe exit, never guessed."""

from __future__ import annotations

import pytest
from bundled_support import (
    HEADER,
    PERSON,
    Scenario,
    check,
    odk_outcomes,
    run_fieldkit,
    scenario,
)

FORM = "shelter_stay"
STAY = {
    **HEADER,
    **PERSON,
    "incoming_referral_date": "2025-09-01",
    "referring_organisation": "hotline",
    "services_delivered": "medical counselling",
}


def left(destination: str, **more: str) -> dict[str, str]:
    return {
        **STAY,
        "stay_status": "exited",
        "exit_date": "2025-10-15",
        "exit_destination": destination,
        "reintegration_status": "partly_settled",
        **more,
    }


SCENARIOS: list[Scenario] = [
    scenario(
        "still-in-the-shelter",
        STAY,
        expect={"stay_status": "in_shelter", "length_of_stay_days": "", "safe_exit": ""},
        hidden=("exit_date", "exit_destination", "reintegration_status"),
        complete=True,
    ),
    scenario(
        "back-with-family-is-safe",
        left("family_reunification"),
        expect={"length_of_stay_days": "44", "safe_exit": "yes", "is_minor": "no"},
        complete=True,
    ),
    scenario("another-shelter-is-safe", left("other_shelter"), expect={"safe_exit": "yes"}),
    scenario(
        "left-without-notice-is-not-safe",
        left("left_without_notice"),
        expect={"safe_exit": "no"},
        complete=True,
    ),
    # "Other" says nothing about safety: left unknown, never counted as an unsafe exit.
    scenario("other-destination-is-unknown", left("other"), expect={"safe_exit": ""}),
    scenario(
        "no-destination-yet-is-unknown",
        {**STAY, "stay_status": "exited", "exit_date": "2025-10-15"},
        expect={"safe_exit": "", "length_of_stay_days": "44"},
    ),
    scenario(
        "exit-before-admission",
        left("independent_living", exit_date="2025-08-20"),
        invalid=("exit_date",),
    ),
    scenario(
        "none-yet-cannot-go-with-a-service",
        {**STAY, "services_delivered": "none medical"},
        invalid=("services_delivered",),
    ),
    scenario(
        "back-in-the-shelter-drops-the-exit",
        left("family_reunification"),
        then={"stay_status": "in_shelter"},
        expect={"exit_date": "", "safe_exit": "", "length_of_stay_days": ""},
        hidden=("exit_date",),
    ),
    scenario(
        "a-case-code-not-a-name",
        {**STAY, "client_pseudonym": "Jane"},
        invalid=("client_pseudonym",),
    ),
    scenario(
        "presumed-minor",
        {**STAY, "age_band": "unknown", "presumed_minor": "yes"},
        expect={"is_minor": "yes"},
        shown=("presumed_minor",),
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
