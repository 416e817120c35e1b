"""Case events: small, immutable changes to one field of one case (DESIGN §5).

A case event is a finalized record of the reserved form ``fieldkit.case_event``: it is sealed
at sync, signed by its device, certified and held like any record (fieldkit/exchange), and
travels through the same push and pull. Its answers say which case (``case``), which field
(``field``), the new ``value``, the ``date`` the change happened (a day, as a person gives
it), the ``action`` (update, close, reopen, resolve) and ``base``: the ids of the events the
writer's laptop held as the field's current value(s) when it changed it. ``base`` is what
tells a later change ("from what I saw") from a concurrent one ("from the same earlier value":
a conflict). The case code is inside the sealed body, never in the plaintext header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

from fieldkit.capture._case_code import is_case_code

__all__ = [
    "ACTIONS",
    "EVENT_FORM",
    "EVENT_VERSION",
    "FOLLOW_UP_MONTHS",
    "FOLLOW_UP_STATUSES",
    "REFERRAL_STATUSES",
    "CaseEvent",
    "event_answers",
    "event_from_row",
    "field_problem",
    "read_event",
]

EVENT_FORM = "fieldkit.case_event"
EVENT_VERSION = "1"
ACTIONS = ("update", "close", "reopen", "resolve", "assign")
REFERRAL_STATUSES = ("pending", "accepted", "rejected", "in_progress", "done")
FOLLOW_UP_STATUSES = ("scheduled", "done", "missed")
# DOMAIN §3: follow-up visits at 1, 3, 6 and 12 months.
FOLLOW_UP_MONTHS = (1, 3, 6, 12)

_PREFIX = f"/{EVENT_FORM.replace('.', '_')}"
_KEYS = ("case", "field", "value", "base", "date", "action")
_PATHS = tuple((key, f"{_PREFIX}/{key}") for key in _KEYS)
_HLC = re.compile(r"^(\d{15})-\d{5}-[0-9A-Za-z_.:]{1,64}$")
_UUID_TEXT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_BASE = re.compile(rf"^(?:{_UUID_TEXT}(?: {_UUID_TEXT})*)?$")
_REFERRAL_ID = re.compile(r"^[0-9a-f]{8}$")
# Fields other changes may use (assignment) are kept as they come: a name and path segments.
_OTHER_FIELD = re.compile(r"^[a-z_]{1,32}(/[A-Za-z0-9_.:-]{1,64}){0,3}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CaseEvent(NamedTuple):
    """One change to one field of one case, as read from its record."""

    id: str
    case: str
    field: str
    value: str
    base: tuple[str, ...]
    date: str
    action: str
    device: str
    hlc: str
    # The wall-clock part of the HLC (what a wrong clock inflates), read once.
    wall_ms: int = 0

    def row(self) -> tuple[str, str, str, str, str, str, str, str, str, int]:
        """The event as ``ws.cases`` keeps it."""
        return (self.id, self.case, self.field, self.value, " ".join(self.base), self.date,
                self.action, self.device, self.hlc, self.wall_ms)  # fmt: skip


def event_from_row(row: Sequence[Any]) -> CaseEvent:
    """An event from its ``ws.cases`` row (read and checked when it was first linked)."""
    # The columns are TEXT NOT NULL and one INTEGER: no conversion needed (200,000 a report).
    return CaseEvent(row[0], row[1], row[2], row[3], tuple(row[4].split()), row[5], row[6],
                     row[7], row[8], row[9])  # fmt: skip


def _is_day(text: str) -> bool:
    if not _DAY.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def field_problem(field: str, value: str) -> str | None:
    """Why ``value`` cannot be the value of ``field`` (None: it can). Never echoes a value."""
    parts = field.split("/")
    if field == "status":
        return None if value in ("open", "closed") else "a case's status is open or closed"
    if parts[0] == "referral" and len(parts) == 3 and parts[2] == "status":
        if not _REFERRAL_ID.match(parts[1]):
            return "a referral is named by the 8 characters `cases show` gives it"
        if value not in REFERRAL_STATUSES:
            return "a referral's status is one of " + ", ".join(REFERRAL_STATUSES)
        return None
    if parts[0] == "follow_up" and len(parts) == 3:
        if parts[1] not in {str(m) for m in FOLLOW_UP_MONTHS}:
            return "follow-ups are at 1, 3, 6 and 12 months"
        if parts[2] == "status":
            if value not in FOLLOW_UP_STATUSES:
                return "a follow-up's status is one of " + ", ".join(FOLLOW_UP_STATUSES)
            return None
        if parts[2] == "due":
            return None if _is_day(value) else "a due date is a day, YYYY-MM-DD"
        return "a follow-up has a status and a due date"
    if parts[0] in ("status", "referral", "follow_up") or not _OTHER_FIELD.match(field):
        return "not a field of a case"
    return None if len(value) <= 128 else "a value of at most 128 characters"


def event_answers(
    *,
    case: str,
    field: str,
    value: str,
    base: Sequence[str],
    day: str,
    action: str,
) -> dict[str, str]:
    """The answers of a new event's record."""
    values = {
        "case": case,
        "field": field,
        "value": value,
        "base": " ".join(sorted(base)),
        "date": day,
        "action": action,
    }
    return {f"{_PREFIX}/{key}": values[key] for key in _KEYS}


def read_event(
    *,
    record_id: str,
    answers: Mapping[str, str],
    device: str,
    hlc: str | None,
    case: str | None = None,
) -> CaseEvent | None:
    """The event a record holds, or None when it is not a well-formed one (left out).
    ``case``: the case it must name (its code then needs no check of its own)."""
    values = {key: answers.get(path, "") for key, path in _PATHS}
    clock = _HLC.match(hlc) if hlc else None
    if clock is None or values["action"] not in ACTIONS:
        return None
    if values["case"] != case if case is not None else not is_case_code(values["case"]):
        return None
    if not _BASE.match(values["base"]) or not _is_day(values["date"]):
        return None
    base = tuple(values["base"].split())
    if field_problem(values["field"], values["value"]) is not None:
        return None
    return CaseEvent(
        id=record_id,
        case=values["case"],
        field=values["field"],
        value=values["value"],
        base=base,
        date=values["date"],
        action=values["action"],
        device=device,
        hlc=clock.group(0),
        wall_ms=int(clock.group(1)),
    )


def case_of_event(answers: Mapping[str, str]) -> str:
    """The case code an event record names ("" when none)."""
    return answers.get(f"{_PREFIX}/case", "")
