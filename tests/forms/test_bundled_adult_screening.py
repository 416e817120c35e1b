"""adult_screening: DOMAIN §3 decision rules as answer scenarios, run on fieldkit and on ODK."""

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

FORM = "adult_screening"
URGENT = ["cannot_leave_now", "threatened_now", "injured_now", "controller_nearby"]
CORE = [
    "deceived_work",
    "forced_work",
    "restricted_movement",
    "documents_held",
    "pay_withheld",
    "debt_bondage",
    "threats",
    "violence",
    "commercial_sex",
]
ILO = ["isolation", "abusive_conditions"]
BASE = {**HEADER, **PERSON}


def answers(default: str = "no", **override: str) -> dict[str, str]:
    """Header and person filled in, every screening item `default` unless overridden."""
    items = {name: default for name in URGENT + CORE + ILO}
    items.update(override)
    return {**BASE, **items}


def result(screen: str, *, urgent: str = "no", yes: int = 0, unresolved: int = 0) -> dict[str, str]:
    return {
        "screen_result": screen,
        "urgent": urgent,
        "core_yes_count": str(yes),
        "core_unresolved_count": str(unresolved),
    }


SCENARIOS: list[Scenario] = [
    scenario(
        "all-no-negative",
        answers(),
        expect={**result("negative"), "labour_concern": "no", "urgent_unclear": "no"},
        hidden=("exploitation_type", "positive_note", "emergency_note", "minor_note"),
        shown=("negative_note",),
        complete=True,
    ),
    # Any yes on a core force/fraud/coercion or commercial-sex item is a positive screen.
    *[
        scenario(
            f"core-yes-{name}-positive",
            answers(**{name: "yes"}),
            expect=result("positive", yes=1),
            shown=("exploitation_type", "positive_note"),
            hidden=("negative_note",),
        )
        for name in CORE
    ],
    scenario(
        "positive-complete-with-type-and-sector",
        {
            **answers(forced_work="yes", pay_withheld="yes"),
            "exploitation_type": "forced_labour",
            "labour_sector": "construction",
        },
        expect={**result("positive", yes=2), "exploitation_type": "forced_labour"},
        shown=("labour_sector",),
        complete=True,
    ),
    scenario(
        "positive-sexual-type-has-no-sector",
        {**answers(commercial_sex="yes"), "exploitation_type": "sexual"},
        expect=result("positive", yes=1),
        hidden=("labour_sector",),
        complete=True,
    ),
    scenario(
        "positive-needs-exploitation-type",
        answers(threats="yes"),
        expect=result("positive", yes=1),
    ),
    # Prefer-not is never "no": two declined core items and no yes is inconclusive.
    scenario(
        "two-prefer-not-inconclusive",
        answers(violence="prefer_not", commercial_sex="prefer_not"),
        expect=result("inconclusive", unresolved=2),
        shown=("inconclusive_note",),
        hidden=("exploitation_type", "negative_note"),
        complete=True,
    ),
    scenario(
        "one-prefer-not-negative",
        answers(debt_bondage="prefer_not"),
        expect=result("negative", unresolved=1),
    ),
    scenario(
        "prefer-not-and-dont-know-inconclusive",
        answers(threats="prefer_not", documents_held="dont_know"),
        expect=result("inconclusive", unresolved=2),
    ),
    scenario(
        "all-prefer-not-inconclusive",
        answers("prefer_not"),
        expect={**result("inconclusive", unresolved=9), "urgent": "no", "urgent_unclear": "yes"},
        shown=("urgent_unclear_note",),
    ),
    scenario(
        "skipped-items-are-not-no",
        {k: v for k, v in answers().items() if k not in ("forced_work", "threats")},
        expect=result("inconclusive", unresolved=2),
    ),
    scenario(
        "answer-cleared-again-is-not-no",
        answers(),
        then={"forced_work": "", "threats": ""},
        expect=result("inconclusive", unresolved=2),
    ),
    scenario(
        "yes-beats-prefer-not",
        answers(
            forced_work="yes", threats="prefer_not", violence="prefer_not", debt_bondage="dont_know"
        ),
        expect=result("positive", yes=1, unresolved=3),
    ),
    scenario(
        "yes-changed-to-no-is-negative-again",
        answers(forced_work="yes"),
        then={"forced_work": "no"},
        expect=result("negative"),
        hidden=("exploitation_type",),
    ),
    # ILO condition items alone do not make a positive screen; they raise a labour concern.
    scenario(
        "ilo-only-labour-concern",
        answers(isolation="yes", abusive_conditions="yes"),
        expect={**result("negative"), "labour_concern": "yes"},
        shown=("labour_note",),
    ),
    # Cannot leave now / threatened now / injured / trafficker nearby: urgent + emergency contacts.
    *[
        scenario(
            f"urgent-{name}",
            answers(**{name: "yes"}),
            expect={**result("negative", urgent="yes"), "urgent_unclear": "no"},
            shown=("emergency_note",),
        )
        for name in URGENT
    ],
    scenario(
        "urgent-and-positive",
        answers(threatened_now="yes", threats="yes"),
        expect=result("positive", urgent="yes", yes=1),
        shown=("emergency_note", "positive_note"),
    ),
    scenario(
        "urgent-prefer-not-is-unclear-not-no",
        answers(controller_nearby="prefer_not"),
        expect={"urgent": "no", "urgent_unclear": "yes"},
        shown=("urgent_unclear_note",),
        hidden=("emergency_note",),
    ),
    scenario(
        "possible-minor-is-sent-to-youth-form",
        {**answers(), "age_band": "9_17"},
        expect={"is_minor": "yes"},
        shown=("minor_note",),
        hidden=("presumed_minor",),
    ),
    scenario(
        "unknown-age-presumed-minor",
        {**answers(), "age_band": "unknown", "presumed_minor": "yes"},
        expect={"is_minor": "yes"},
        shown=("minor_note", "presumed_minor"),
    ),
    scenario(
        "unknown-age-no-reason-to-presume-minor",
        {**answers(), "age_band": "unknown", "presumed_minor": "no"},
        expect={"is_minor": "no"},
        hidden=("minor_note",),
    ),
    scenario(
        "unknown-age-dont-know",
        {**answers(), "age_band": "unknown", "presumed_minor": "dont_know"},
        expect={"is_minor": "unknown"},
    ),
    scenario(
        "bad-site-and-pseudonym-codes",
        {**answers(), "site": "Nairobi", "client_pseudonym": "Jane"},
        invalid=("site", "client_pseudonym"),
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
