"""youth_screening: QYIT-area rules, child-trafficking flag and refusal, on fieldkit and on ODK."""

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

FORM = "youth_screening"
ITEMS = ["unsafe_work", "tricked_work", "forced_work", "sex_for_value", "afraid_to_leave"]
URGENT = ["in_danger_now", "needs_safe_place"]


def answers(age_band: str = "18_20", default: str = "no", **override: str) -> dict[str, str]:
    """A young person who agreed; every item `default` unless overridden."""
    base = {**HEADER, **PERSON, "age_band": age_band, "youth_agrees": "yes"}
    items = {name: default for name in ITEMS + URGENT}
    items.update(override)
    return {**base, **items}


SCENARIOS: list[Scenario] = [
    # "Youth refused" is a valid outcome: no screening result, nothing else asked.
    scenario(
        "youth-refused",
        {**HEADER, **PERSON, "age_band": "9_17", "youth_agrees": "no"},
        expect={
            "youth_refused": "yes",
            "screen_result": "",
            "urgent": "no",
            "child_trafficking_flag": "no",
            "urgent_unclear": "no",
        },
        hidden=(*ITEMS, *URGENT, "positive_note", "negative_note", "emergency_note"),
        shown=("refused_note",),
        complete=True,
    ),
    scenario(
        "refused-after-answering-keeps-nothing",
        answers("9_17", sex_for_value="yes", in_danger_now="yes"),
        then={"youth_agrees": "no"},
        expect={
            "youth_refused": "yes",
            "screen_result": "",
            "child_trafficking_flag": "no",
            "urgent": "no",
            "sex_for_value": "",
        },
    ),
    scenario(
        "all-no-negative",
        answers(),
        expect={
            "screen_result": "negative",
            "urgent": "no",
            "child_trafficking_flag": "no",
            "youth_refused": "no",
        },
        shown=("negative_note",),
        complete=True,
    ),
    # QYIT: one yes is a positive screen.
    *[
        scenario(
            f"one-yes-{name}-positive",
            answers(**{name: "yes"}),
            expect={"screen_result": "positive", "items_yes_count": "1"},
            shown=("positive_note",),
        )
        for name in ITEMS
    ],
    # A minor who exchanged sex for anything of value: flagged whatever the force (Palermo 3(c)).
    scenario(
        "minor-sex-for-value-no-force-flag",
        answers("9_17", sex_for_value="yes"),
        expect={"child_trafficking_flag": "yes", "screen_result": "positive", "is_minor": "yes"},
        shown=("child_protection_note",),
        complete=True,
    ),
    scenario(
        "young-child-band-flag",
        answers("0_8", sex_for_value="yes"),
        expect={"child_trafficking_flag": "yes"},
    ),
    scenario(
        "adult-sex-for-value-positive-no-flag",
        answers("21_23", sex_for_value="yes"),
        expect={"child_trafficking_flag": "no", "screen_result": "positive", "is_minor": "no"},
        hidden=("child_protection_note",),
    ),
    scenario(
        "presumed-minor-sex-for-value-flag",
        {**answers("unknown", sex_for_value="yes"), "presumed_minor": "yes"},
        expect={"child_trafficking_flag": "yes", "is_minor": "yes"},
        shown=("child_protection_note",),
        hidden=("age_unclear_note",),
    ),
    scenario(
        "age-unclear-sex-for-value-prompts-age-check",
        {**answers("unknown", sex_for_value="yes"), "presumed_minor": "dont_know"},
        expect={"child_trafficking_flag": "no", "is_minor": "unknown", "screen_result": "positive"},
        shown=("age_unclear_note",),
    ),
    scenario(
        "minor-sex-prefer-not-is-not-a-flag-nor-a-no",
        answers("9_17", sex_for_value="prefer_not"),
        expect={
            "child_trafficking_flag": "no",
            "screen_result": "negative",
            "items_unresolved_count": "1",
        },
    ),
    scenario(
        "two-prefer-not-inconclusive",
        answers(sex_for_value="prefer_not", afraid_to_leave="prefer_not"),
        expect={"screen_result": "inconclusive", "items_unresolved_count": "2"},
        shown=("inconclusive_note",),
    ),
    scenario(
        "skipped-and-dont-know-inconclusive",
        {k: v for k, v in answers(tricked_work="dont_know").items() if k != "unsafe_work"},
        expect={"screen_result": "inconclusive", "items_unresolved_count": "2"},
    ),
    scenario(
        "yes-beats-declined",
        answers(default="prefer_not", forced_work="yes"),
        expect={"screen_result": "positive", "items_unresolved_count": "4"},
    ),
    *[
        scenario(
            f"urgent-{name}",
            answers(**{name: "yes"}),
            expect={"urgent": "yes", "screen_result": "negative"},
            shown=("emergency_note",),
        )
        for name in URGENT
    ],
    scenario(
        "urgent-declined-is-unclear",
        answers(in_danger_now="prefer_not"),
        expect={"urgent": "no", "urgent_unclear": "yes"},
        shown=("urgent_unclear_note",),
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
