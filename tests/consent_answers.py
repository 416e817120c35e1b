"""A bundled consent's answers, shared by the capture tests (tests/ is on sys.path through its
conftest): every scope but future contact, sharing with three partners. The case code is left
out, so fieldkit makes one."""

from __future__ import annotations

from typing import Any

CONSENT: dict[str, Any] = {
    "interviewer_role": "social_worker",
    "site": "KE-0101",
    "interview_date": "2026-01-15",
    "interview_language": "en",
    "interpreter_used": "no",
    "mode": "in_person",
    "safe_private": "yes",
    "safe_monitored": "no",
    "safe_time": "yes",
    "checklist_read": ["purpose", "data_use", "skip_stop", "limits"],
    "understood": "yes",
    "age_band": "30_38",
    "consent_interview": "yes",
    "consent_store": "yes",
    "consent_contact": "no",
    "consent_share": "yes",
    "share_partners": ["ngo_shelter", "health_centre", "legal_aid"],
    "consent_stats": "yes",
    "sex": "female",
    "citizenship": "KE",
}


def consent(**changes: Any) -> dict[str, Any]:
    """The answers with ``changes`` (None drops an answer)."""
    return {k: v for k, v in {**CONSENT, **changes}.items() if v is not None}
