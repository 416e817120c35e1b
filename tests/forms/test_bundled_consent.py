"""consent: safety check, read-out, age route and consent scopes, on fieldkit and on ODK."""

from __future__ import annotations

import pytest
from bundled_support import HEADER, Scenario, check, odk_outcomes, run_fieldkit, scenario

FORM = "consent"
SAFE = {"safe_private": "yes", "safe_monitored": "no", "safe_time": "yes"}
READ = {"checklist_read": "purpose data_use skip_stop limits", "understood": "yes"}
ADULT = {"age_band": "30_38"}
ALL_SCOPES = {
    "consent_interview": "yes",
    "consent_store": "yes",
    "consent_contact": "yes",
    "contact_method": "phone_call",
    "contact_detail": "+254 700 000000",
    "contact_times": "weekday_morning weekend",
    "consent_share": "yes",
    "share_partners": "ngo_shelter legal_aid",
    "consent_stats": "yes",
}
AFTER_STOP = ("checklist_read", "understood", "age_band", "consent_interview", "client_pseudonym")


def stop(reason: str) -> dict[str, str]:
    """What an anonymous stop leaves: no consent, route stop, no case code."""
    return {"consent_given": "no", "route": "stop", "stop_reason": reason, "client_pseudonym": ""}


SCENARIOS: list[Scenario] = [
    # The safety check comes first; anything but a clear "safe" stops the interview.
    scenario(
        "not-private-stops",
        {**HEADER, "safe_private": "no"},
        expect={**stop("unsafe"), "unsafe": "yes"},
        hidden=("safe_monitored", "safe_time", *AFTER_STOP),
        shown=("unsafe_note", "stop_note"),
        complete=True,
    ),
    scenario(
        "monitored-stops",
        {**HEADER, "safe_private": "yes", "safe_monitored": "yes"},
        expect=stop("unsafe"),
        hidden=("safe_time", *AFTER_STOP),
        complete=True,
    ),
    scenario(
        "monitored-prefer-not-is-not-no",
        {**HEADER, "safe_private": "yes", "safe_monitored": "prefer_not"},
        expect=stop("unsafe"),
        shown=("unsafe_note",),
    ),
    scenario(
        "private-dont-know-stops",
        {**HEADER, "safe_private": "dont_know"},
        expect=stop("unsafe"),
    ),
    scenario(
        "unsafe-time-stops",
        {**HEADER, "safe_private": "yes", "safe_monitored": "no", "safe_time": "no"},
        expect=stop("unsafe"),
        hidden=AFTER_STOP,
        complete=True,
    ),
    scenario(
        "nothing-answered-is-not-consent",
        {},
        expect={"consent_given": "no", "route": "stop", "safe": "no", "unsafe": "no"},
        hidden=("unsafe_note",),
    ),
    scenario(
        "checklist-must-be-read-in-full",
        {**HEADER, **SAFE, "checklist_read": "purpose data_use"},
        invalid=("checklist_read",),
    ),
    scenario(
        "not-understood-stops",
        {**HEADER, **SAFE, "checklist_read": READ["checklist_read"], "understood": "no"},
        expect=stop("not_understood"),
        hidden=("age_band", "consent_interview"),
        complete=True,
    ),
    # Refused: only an anonymous count is kept, even of answers given before the refusal.
    scenario(
        "interview-refused-stops-and-drops-age",
        {**HEADER, **SAFE, **READ, "age_band": "24_26", "consent_interview": "no"},
        expect={**stop("refused"), "age_band": "", "is_minor": "", "consent_scopes": ""},
        hidden=("age_band", "consent_store", "consent_contact", "consent_stats"),
        shown=("stop_note",),
        complete=True,
    ),
    scenario(
        "storage-refused-stops",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "24_26",
            "consent_interview": "yes",
            "consent_store": "no",
        },
        expect={**stop("no_storage"), "age_band": "", "consent_scopes": "interview"},
        hidden=("consent_contact", "consent_share", "consent_stats"),
        complete=True,
    ),
    scenario(
        "adult-all-scopes",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "30_38",
            **ALL_SCOPES,
            "sex": "female",
            "citizenship": "KE",
            "client_pseudonym": "KE-0042-9",
        },
        expect={
            "consent_given": "yes",
            "route": "adult",
            "stop_reason": "",
            "is_minor": "no",
            "consent_scopes": "interview store contact share statistics",
        },
        shown=("adult_note", "contact_detail"),
        hidden=("stop_note", "youth_note", "minor_support"),
        complete=True,
    ),
    scenario(
        "consent-withdrawn-before-the-end",
        {
            **HEADER,
            **SAFE,
            **READ,
            **ADULT,
            **ALL_SCOPES,
            "sex": "female",
            "citizenship": "KE",
            "client_pseudonym": "KE-0042-9",
        },
        then={"consent_interview": "no"},
        expect={**stop("refused"), "age_band": "", "contact_detail": "", "consent_scopes": ""},
        hidden=("contact_detail", "share_partners", "client_pseudonym"),
        complete=True,
    ),
    scenario(
        "adult-minimal-scopes",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "48_plus",
            "consent_interview": "yes",
            "consent_store": "yes",
            "consent_contact": "no",
            "consent_share": "no",
            "consent_stats": "no",
            "sex": "female",
            "citizenship": "KE",
            "client_pseudonym": "AB-1234-G",
        },
        expect={"consent_given": "yes", "route": "adult", "consent_scopes": "interview store"},
        hidden=("contact_method", "contact_detail", "contact_times", "share_partners"),
        complete=True,
    ),
    scenario(
        "consent-needs-a-case-code",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "30_38",
            "consent_interview": "yes",
            "consent_store": "yes",
            "consent_contact": "no",
            "consent_share": "no",
            "consent_stats": "yes",
        },
        expect={"consent_given": "yes"},
        shown=("client_pseudonym",),
    ),
    # Possible minor: the youth route (and a supporting adult recorded).
    scenario(
        "minor-youth-route",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "9_17",
            "minor_support": "guardian",
            "consent_interview": "yes",
            "consent_store": "yes",
            "consent_contact": "no",
            "consent_share": "no",
            "consent_stats": "yes",
            "sex": "female",
            "citizenship": "KE",
            "client_pseudonym": "AB-1234-G",
        },
        expect={"consent_given": "yes", "route": "youth", "is_minor": "yes"},
        shown=("minor_note", "youth_note", "minor_support"),
        complete=True,
    ),
    scenario(
        "presumed-minor-youth-route",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "unknown",
            "presumed_minor": "yes",
            "minor_support": "child_protection_officer",
            "consent_interview": "yes",
            "consent_store": "yes",
            "consent_contact": "no",
            "consent_share": "no",
            "consent_stats": "yes",
            "sex": "female",
            "citizenship": "KE",
            "client_pseudonym": "AB-1234-G",
        },
        expect={"route": "youth", "is_minor": "yes"},
        complete=True,
    ),
    scenario(
        "age-unclear-is-a-possible-minor",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "unknown",
            "presumed_minor": "dont_know",
            "consent_interview": "yes",
            "consent_store": "yes",
        },
        expect={"route": "youth", "is_minor": "unknown"},
        shown=("minor_note",),
    ),
    scenario(
        "unknown-age-no-reason-to-presume-minor-is-adult",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "unknown",
            "presumed_minor": "no",
            "consent_interview": "yes",
            "consent_store": "yes",
        },
        expect={"route": "adult", "is_minor": "no"},
        hidden=("minor_note",),
    ),
    scenario(
        "minor-refused-stops",
        {**HEADER, **SAFE, **READ, "age_band": "9_17", "consent_interview": "no"},
        expect={**stop("refused"), "is_minor": ""},
        hidden=("minor_note",),
    ),
    scenario(
        "bad-contact-number-and-codes",
        {
            **HEADER,
            **SAFE,
            **READ,
            "age_band": "30_38",
            **ALL_SCOPES,
            "contact_detail": "call Mary",
            "client_pseudonym": "mary",
            "site": "KE 0101",
        },
        invalid=("contact_detail", "client_pseudonym", "site"),
    ),
    scenario(
        "future-interview-date",
        {**HEADER, "interview_date": "2999-01-01"},
        invalid=("interview_date",),
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


def test_the_read_out_promises_deletion_and_fieldkit_delivers_it() -> None:
    # DOMAIN §8: the consent wording promises erasure, so the software must deliver it. The
    # promise came back with `fieldkit cases erase` (tests/security/test_case_erasure.py
    # proves the marker text of an erased case is found nowhere afterwards).
    from fieldkit.bundled import bundled_form
    from fieldkit.cli.app import cases_app
    from fieldkit.exchange.case_orders import erase_case, withdraw_case

    text = bundled_form(FORM).read_text(encoding="utf-8")
    rights = next(line for line in text.splitlines() if "| read_rights |" in line)
    assert "delete what you said" in rights and "effacer ce que vous avez dit" in rights
    assert "every device and from our server" in rights
    skip = next(line for line in text.splitlines() if "| skip_stop |" in line)
    assert "deleted" in skip
    commands = {c.name for c in cases_app.registered_commands}
    assert {"erase", "withdraw"} <= commands
    assert callable(erase_case) and callable(withdraw_case)
