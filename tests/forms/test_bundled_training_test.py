"""training_test: a code, never a name; an untested part is left out, never scored 0."""

from __future__ import annotations

import pytest
from bundled_support import HEADER, Scenario, check, odk_outcomes, run_fieldkit, scenario

FORM = "training_test"
TRAINEE = {
    **HEADER,
    "trainee_agrees": "yes",
    "course_code": "POL-2511",
    "training_code": "POL-2511-07",
    "course_topic": "victim_identification",
    "trainee_profession": "police",
    "test_stage": "pre",
}

SCENARIOS: list[Scenario] = [
    scenario(
        "declined-asks-nothing-more",
        {**HEADER, "trainee_agrees": "no"},
        expect={"score_percent": "", "areas_scored": "0"},
        shown=("declined_note",),
        hidden=("training_code", "score_identification"),
        complete=True,
    ),
    scenario(
        "all-four-parts",
        {
            **TRAINEE,
            "score_identification": "4",
            "score_trauma_care": "3",
            "score_referral": "5",
            "score_investigation": "2",
        },
        expect={"areas_scored": "4", "score_percent": "70"},
        complete=True,
    ),
    # A part left empty was not in the test: over 2 parts (10 points), not 4 (20 points).
    scenario(
        "an-untested-part-is-not-a-zero",
        {**TRAINEE, "score_identification": "4", "score_referral": "5"},
        expect={"areas_scored": "2", "score_percent": "90"},
        complete=True,
    ),
    scenario(
        "a-real-zero-counts",
        {**TRAINEE, "score_identification": "0", "score_referral": "5"},
        expect={"areas_scored": "2", "score_percent": "50"},
    ),
    scenario(
        "no-score-yet",
        TRAINEE,
        expect={"areas_scored": "0", "score_percent": ""},
    ),
    scenario(
        "score-above-five",
        {**TRAINEE, "score_trauma_care": "6"},
        invalid=("score_trauma_care",),
    ),
    scenario(
        "training-code-must-be-of-the-course",
        {**TRAINEE, "training_code": "SOC-2511-07"},
        invalid=("training_code",),
    ),
    scenario(
        "a-name-is-no-training-code",
        {**TRAINEE, "training_code": "Jane"},
        invalid=("training_code",),
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
