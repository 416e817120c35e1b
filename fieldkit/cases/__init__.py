"""Cases followed over time (DESIGN §5): a person's file built from their records and from
immutable, sealed, signed case events keyed by the case code.

docs/internals.md ("Cases") describes the model: events as records of a reserved form, fields
merged by what each change was based on, conflicts kept until a person resolves them, hybrid
logical clocks with a bound on how far ahead an event may claim to be.
"""

from __future__ import annotations

from fieldkit.cases._book import (
    NEXT_STATUS,
    all_cases,
    case_list,
    case_state,
    change_case,
    close_case,
    find_case,
    list_conflicts,
    refresh,
    reopen_case,
    resolve_conflict,
    update_follow_up,
    update_referral,
)
from fieldkit.cases._events import (
    EVENT_FORM,
    EVENT_VERSION,
    FOLLOW_UP_MONTHS,
    REFERRAL_STATUSES,
    CaseEvent,
)
from fieldkit.cases._state import MAX_SKEW_MS, CaseState, Conflict, FollowUp, Referral, derive_case
from fieldkit.cases._view import case_view

__all__ = [
    "EVENT_FORM",
    "EVENT_VERSION",
    "FOLLOW_UP_MONTHS",
    "MAX_SKEW_MS",
    "NEXT_STATUS",
    "REFERRAL_STATUSES",
    "CaseEvent",
    "CaseState",
    "Conflict",
    "FollowUp",
    "Referral",
    "all_cases",
    "case_list",
    "case_state",
    "case_view",
    "change_case",
    "close_case",
    "derive_case",
    "find_case",
    "list_conflicts",
    "refresh",
    "reopen_case",
    "resolve_conflict",
    "update_follow_up",
    "update_referral",
]
