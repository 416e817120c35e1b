"""The terminal interview over a FormSession (DESIGN §5): one question at a time, drafts saved
after every answer, review before finalize, a quick exit that saves and clears."""

from __future__ import annotations

from fieldkit.capture._answers_file import read_answers_file
from fieldkit.capture._capture import (
    capture_answers,
    edit_record,
    resume_interview,
    start_interview,
)
from fieldkit.capture._consent import consent_on_file, requires_consent
from fieldkit.capture._interview import Interview, Outcome
from fieldkit.capture._terminal import QuickExit, RichTerminal, Terminal

__all__ = [
    "Interview",
    "Outcome",
    "QuickExit",
    "RichTerminal",
    "Terminal",
    "capture_answers",
    "consent_on_file",
    "edit_record",
    "read_answers_file",
    "requires_consent",
    "resume_interview",
    "start_interview",
]
