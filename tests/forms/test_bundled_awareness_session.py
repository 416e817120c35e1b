"""awareness_session: counts only, a total that adds up, a knowledge check held to the counts."""

from __future__ import annotations

import pytest
from bundled_support import HEADER, Scenario, check, odk_outcomes, run_fieldkit, scenario

FORM = "awareness_session"
EVENT = {
    **HEADER,
    "event_type": "workshop",
    "audience_type": "students parents",
    "facilitator_role": "programme_staff",
}
COUNTS = {
    "reached_female_minor": "12",
    "reached_female_adult": "8",
    "reached_male_minor": "10",
    "reached_male_adult": "5",
    "reached_other": "0",
    "materials_distributed": "40",
}

SCENARIOS: list[Scenario] = [
    scenario(
        "no-check-is-complete",
        {**EVENT, **COUNTS, "knowledge_check": "no"},
        expect={"reached_total": "35"},
        hidden=("checked_count", "named_3_signs_count"),
        complete=True,
    ),
    scenario(
        "check-with-counts",
        {**EVENT, **COUNTS, "knowledge_check": "yes", "checked_count": "30"},
        then={"named_3_signs_count": "18"},
        expect={"reached_total": "35", "named_3_signs_count": "18"},
        shown=("checked_count", "named_3_signs_count"),
        complete=True,
    ),
    # An unanswered count is not a zero for the form's rules: the record cannot finalize.
    scenario(
        "a-skipped-count-keeps-the-record-open",
        {**EVENT, "reached_female_minor": "12", "knowledge_check": "no"},
        expect={"reached_total": "12"},
    ),
    scenario(
        "more-checked-than-reached",
        {**EVENT, **COUNTS, "knowledge_check": "yes", "checked_count": "36"},
        invalid=("checked_count",),
    ),
    scenario(
        "more-naming-signs-than-checked",
        {**EVENT, **COUNTS, "knowledge_check": "yes", "checked_count": "10"},
        then={"named_3_signs_count": "11"},
        invalid=("named_3_signs_count",),
    ),
    scenario(
        "negative-count",
        {**EVENT, "reached_male_adult": "-2"},
        invalid=("reached_male_adult",),
    ),
    scenario(
        "check-undone-drops-its-counts",
        {**EVENT, **COUNTS, "knowledge_check": "yes", "checked_count": "20"},
        then={"knowledge_check": "no"},
        expect={"checked_count": ""},
        hidden=("checked_count",),
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
