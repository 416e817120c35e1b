"""referral: no consent and no legal basis means no send; status and dates, on fieldkit and ODK."""

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

FORM = "referral"
BASE = {
    **HEADER,
    **PERSON,
    "referral_date": "2025-11-20",
    "service_types": "shelter medical",
    "receiving_agency": "ngo_shelter",
    "urgency": "urgent",
    "shared_data": "screening_result service_needs",
}
CONTACT = {"safe_contact_method": "through_worker", "due_date": "2025-11-27"}


def sending(**more: str) -> dict[str, str]:
    return {**BASE, **more}


SCENARIOS: list[Scenario] = [
    scenario(
        "consent-to-share-can-send",
        {**sending(share_consent="yes", send_now="yes"), **CONTACT},
        expect={"can_send": "yes", "legal_basis": "", "referral_status": "pending"},
        hidden=("legal_basis", "legal_basis_approved_by", "blocked_note"),
        complete=True,
    ),
    # DOMAIN §3: no consent and no recorded legal basis -> the referral cannot be sent.
    scenario(
        "refused-no-legal-basis-cannot-send",
        {**sending(share_consent="no", legal_basis="none", send_now="no"), **CONTACT},
        expect={"can_send": "no"},
        shown=("blocked_note", "legal_basis"),
        hidden=("legal_basis_approved_by",),
        complete=True,
    ),
    scenario(
        "no-consent-send-attempt-is-stopped",
        {**sending(share_consent="not_recorded", legal_basis="none", send_now="yes"), **CONTACT},
        expect={"can_send": "no"},
        invalid=("send_now",),
    ),
    scenario(
        "no-consent-status-must-stay-pending",
        {**sending(share_consent="no", legal_basis="none"), **CONTACT},
        then={"referral_status": "accepted"},
        expect={"can_send": "no"},
        invalid=("referral_status",),
    ),
    scenario(
        "consent-question-unanswered-cannot-send",
        sending(),
        expect={"can_send": "no"},
        hidden=("legal_basis", "blocked_note"),
    ),
    scenario(
        "imminent-danger-overrides",
        {
            **sending(share_consent="not_recorded", legal_basis="imminent_danger"),
            "legal_basis_approved_by": "supervisor",
            "send_now": "yes",
            **CONTACT,
        },
        expect={"can_send": "yes"},
        shown=("legal_basis_approved_by",),
        hidden=("blocked_note",),
        complete=True,
    ),
    scenario(
        "legal-basis-needs-an-approver",
        {**sending(share_consent="no", legal_basis="imminent_danger", send_now="yes"), **CONTACT},
        expect={"can_send": "yes"},
        shown=("legal_basis_approved_by",),
    ),
    scenario(
        "child-protection-for-a-minor",
        {
            **sending(share_consent="no", legal_basis="child_protection"),
            "age_band": "9_17",
            "legal_basis_approved_by": "child_protection_officer",
            "send_now": "yes",
            **CONTACT,
        },
        expect={"can_send": "yes", "is_minor": "yes"},
        complete=True,
    ),
    scenario(
        "child-protection-for-a-presumed-minor",
        {
            **sending(share_consent="no", legal_basis="child_protection"),
            "age_band": "unknown",
            "presumed_minor": "yes",
        },
        expect={"can_send": "yes", "is_minor": "yes"},
    ),
    scenario(
        "child-protection-not-for-an-adult",
        sending(share_consent="no", legal_basis="child_protection"),
        expect={"is_minor": "no"},
        invalid=("legal_basis",),
    ),
    scenario(
        "consent-given-after-all-hides-legal-basis",
        sending(share_consent="no", legal_basis="none"),
        then={"share_consent": "yes"},
        expect={"can_send": "yes", "legal_basis": ""},
        hidden=("legal_basis",),
    ),
    scenario(
        "emergency-services-cannot-be-routine",
        {**BASE, "service_types": "emergency_transport", "urgency": "routine"},
        invalid=("urgency",),
    ),
    scenario(
        "emergency-services-as-emergency",
        {**BASE, "service_types": "shelter emergency_extraction", "urgency": "emergency"},
    ),
    scenario(
        "due-date-before-referral",
        {**sending(share_consent="yes"), "due_date": "2025-11-01"},
        invalid=("due_date",),
    ),
    scenario(
        "phone-contact-asks-number-and-times",
        {
            **sending(share_consent="yes"),
            "safe_contact_method": "phone_call",
            "safe_contact_detail": "0700 000 000",
            "safe_contact_times": "weekday_evening",
        },
        shown=("safe_contact_detail", "safe_contact_times"),
    ),
    scenario(
        "no-direct-contact-asks-nothing-more",
        {**sending(share_consent="yes"), "safe_contact_method": "no_direct_contact"},
        hidden=("safe_contact_detail", "safe_contact_times"),
    ),
    scenario(
        "rejected-needs-a-reason",
        {**sending(share_consent="yes", send_now="yes"), **CONTACT, "referral_status": "rejected"},
        shown=("rejection_reason",),
        hidden=("service_start_date",),
    ),
    scenario(
        "declined-by-the-person-is-valid",
        {
            **sending(share_consent="yes", send_now="yes"),
            **CONTACT,
            "referral_status": "rejected",
            "rejection_reason": "client_declined",
        },
        complete=True,
    ),
    scenario(
        "service-started",
        {
            **sending(share_consent="yes", send_now="yes"),
            **CONTACT,
            "referral_status": "done",
            "service_start_date": "2025-11-22",
            "case_outcome": "investigation",
        },
        expect={"service_start_date": "2025-11-22", "case_outcome": "investigation"},
        complete=True,
    ),
    scenario(
        "service-start-before-referral",
        {
            **sending(share_consent="yes"),
            "referral_status": "in_progress",
            "service_start_date": "2025-11-02",
        },
        invalid=("service_start_date",),
    ),
    scenario(
        "service-start-date-dropped-when-back-to-pending",
        {
            **sending(share_consent="yes"),
            "referral_status": "in_progress",
            "service_start_date": "2025-11-22",
        },
        then={"referral_status": "pending"},
        expect={"service_start_date": ""},
        hidden=("service_start_date",),
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
