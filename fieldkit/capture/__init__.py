"""The terminal interview over a FormSession (DESIGN §5): one question at a time, drafts saved
after every answer, review before finalize, a quick exit that saves and clears; consent
checked per case, case codes made with a check character (DOMAIN §8)."""

from __future__ import annotations

from fieldkit.capture._answers_file import read_answers_file
from fieldkit.capture._capture import (
    capture_answers,
    case_code_in,
    case_code_of,
    edit_record,
    emergency_notes,
    resume_interview,
    start_interview,
)
from fieldkit.capture._case_code import is_case_code, new_case_code, normalize_case_code
from fieldkit.capture._consent import (
    CaseConsent,
    ConsentNeeds,
    consent_needs,
    consent_on_file,
    consents_by_case,
    requires_consent,
)
from fieldkit.capture._contacts import Contact, emergency_contacts
from fieldkit.capture._drafts import DraftSummary, drafts, find_record
from fieldkit.capture._interview import Interview, Outcome
from fieldkit.capture._terminal import QuickExit, RichTerminal, Terminal

__all__ = [
    "CaseConsent",
    "ConsentNeeds",
    "Contact",
    "DraftSummary",
    "Interview",
    "Outcome",
    "QuickExit",
    "RichTerminal",
    "Terminal",
    "capture_answers",
    "case_code_in",
    "case_code_of",
    "consent_needs",
    "consent_on_file",
    "consents_by_case",
    "drafts",
    "edit_record",
    "emergency_contacts",
    "emergency_notes",
    "find_record",
    "is_case_code",
    "new_case_code",
    "normalize_case_code",
    "read_answers_file",
    "requires_consent",
    "resume_interview",
    "start_interview",
]
