"""legal_outcome: the furthest stage reached; a "don't know" or a skip is never "none"."""

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

FORM = "legal_outcome"
BASE = {**HEADER, **{k: v for k, v in PERSON.items() if k != "citizenship"}}


def case(**answers: str) -> dict[str, str]:
    return {**BASE, **answers}


SCENARIOS: list[Scenario] = [
    scenario(
        "no-complaint-no-investigation-is-none",
        case(complaint_filed="no", investigation_opened="no"),
        expect={"legal_stage": "none"},
        hidden=("prosecution_started", "verdict", "victim_witness_support"),
        complete=True,
    ),
    scenario(
        "not-known-is-not-none",
        case(complaint_filed="dont_know", investigation_opened="dont_know"),
        expect={"legal_stage": ""},
        complete=True,
    ),
    scenario(
        "skipped-is-not-none",
        case(complaint_filed="no"),
        expect={"legal_stage": ""},
    ),
    scenario(
        "complaint-only",
        case(complaint_filed="yes", investigation_opened="no", victim_witness_support="yes"),
        expect={"legal_stage": "complaint"},
        shown=("victim_witness_support",),
        complete=True,
    ),
    scenario(
        "investigation-without-complaint",
        case(complaint_filed="no", investigation_opened="yes", prosecution_started="dont_know"),
        expect={"legal_stage": "investigation"},
        shown=("prosecution_started", "victim_witness_support"),
        hidden=("verdict",),
    ),
    scenario(
        "prosecution-pending",
        case(
            complaint_filed="yes",
            investigation_opened="yes",
            prosecution_started="yes",
            charges="trafficking forced_labour",
            verdict="pending",
            victim_witness_support="no",
        ),
        expect={"legal_stage": "prosecution", "trafficking_charge": "yes"},
        hidden=("sentence_band", "compensation_ordered"),
        complete=True,
    ),
    scenario(
        "acquittal-stays-at-prosecution",
        case(
            complaint_filed="yes",
            investigation_opened="yes",
            prosecution_started="yes",
            charges="smuggling",
            verdict="acquittal",
            victim_witness_support="dont_know",
        ),
        expect={"legal_stage": "prosecution", "trafficking_charge": "no"},
        complete=True,
    ),
    scenario(
        "conviction",
        case(
            complaint_filed="yes",
            investigation_opened="yes",
            prosecution_started="yes",
            charges="trafficking",
            verdict="conviction",
            sentence_band="5_10y",
            compensation_ordered="yes",
            victim_witness_support="yes",
        ),
        expect={"legal_stage": "conviction"},
        shown=("sentence_band", "compensation_ordered"),
        complete=True,
    ),
    scenario(
        "charges-not-known",
        case(investigation_opened="yes", prosecution_started="yes", charges="dont_know"),
        expect={"trafficking_charge": ""},
    ),
    scenario(
        "dont-know-cannot-go-with-a-charge",
        case(
            investigation_opened="yes", prosecution_started="yes", charges="trafficking dont_know"
        ),
        invalid=("charges",),
    ),
    scenario(
        "investigation-undone-drops-the-trial",
        case(investigation_opened="yes", prosecution_started="yes", verdict="conviction"),
        then={"investigation_opened": "no"},
        expect={"verdict": "", "legal_stage": ""},
        hidden=("prosecution_started", "verdict"),
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
