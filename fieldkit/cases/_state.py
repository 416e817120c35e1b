"""A case's state, derived from its records and its events (DESIGN §5, DOMAIN §3).

Nothing here is stored as the truth: the records (consent, screenings, referrals, follow-ups)
give each field its first value, and the case events change it. For one field the events
form a small graph through ``base``: the *heads* are the events no later event of that field
was based on. One head (or several that agree) is the field's value; heads that disagree are
a **conflict**, kept with every value until a person resolves it (a resolving event names all
the heads as its base). So the order in which laptops synced changes nothing: the same
records and events give the same state on every laptop.

Hybrid logical clocks order the timeline and break ties; they never decide a conflict. An
event whose clock claims a time more than ``MAX_SKEW`` ahead of this laptop's is *held back*
(left out, listed) until this laptop's clock reaches it, so a laptop whose clock runs a year
ahead cannot put its changes after everyone else's. One a year behind merges as any other:
its changes name what they were based on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fieldkit.cases._events import (
    EVENT_FORM,
    FOLLOW_UP_MONTHS,
    CaseEvent,
    read_event,
)
from fieldkit.store import Record

__all__ = [
    "MAX_SKEW_MS",
    "CaseState",
    "Conflict",
    "FieldState",
    "FollowUp",
    "Referral",
    "derive_case",
    "referral_id",
]

# An event may claim to be at most this far ahead of the receiving laptop's clock.
MAX_SKEW_MS = 60 * 60 * 1000
# DOMAIN §3 / forms/README.md (follow_up): target = start + months of 30.44 days; on time
# until 14 days after the target.
_MONTH_DAYS = 30.44
_GRACE_DAYS = 14
SCREENING_FORMS = ("adult_screening", "youth_screening")
_OPEN_REFERRAL = ("pending", "accepted")
_SERVED = ("in_progress", "done")


def _leaf(answers: Mapping[str, str], name: str) -> str:
    for path, value in answers.items():
        if path.rsplit("/", 1)[-1] == name and value:
            return value
    return ""


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def referral_id(record_id: str) -> str:
    """The short id of a referral: the first 8 characters of its first record's id."""
    return record_id.replace("-", "")[:8]


@dataclass
class FieldState:
    """One field: its value from the records, the events that changed it, and its heads."""

    name: str
    initial: str
    history: list[CaseEvent] = field(default_factory=list)
    heads: tuple[CaseEvent, ...] = ()

    @property
    def values(self) -> tuple[str, ...]:
        """The distinct values of the heads, oldest first (one unless in conflict)."""
        if not self.heads:
            return (self.initial,)
        seen: list[str] = []
        for event in self.heads:
            if event.value not in seen:
                seen.append(event.value)
        return tuple(seen)

    @property
    def conflict(self) -> bool:
        """Two laptops changed it from the same earlier value to different values."""
        return len(self.values) > 1

    @property
    def value(self) -> str:
        """The value; in a conflict, the latest head's (provisional, shown as a conflict)."""
        return self.heads[-1].value if self.heads else self.initial

    def base(self) -> tuple[str, ...]:
        """What a new change of this field is based on: every head."""
        return tuple(e.id for e in self.heads)


@dataclass(frozen=True)
class Conflict:
    """A field in conflict: the values kept, and the events that hold them."""

    case: str
    field: str
    values: tuple[str, ...]
    events: tuple[CaseEvent, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (values, and who changed it when; no answers)."""
        return {
            "case": self.case,
            "field": self.field,
            "values": list(self.values),
            "changes": [
                {"value": e.value, "date": e.date, "by": e.device, "event": e.id[:8]}
                for e in self.events
            ],
        }


@dataclass
class Referral:
    """One referral and its status over time."""

    id: str
    record_id: str
    date: str
    service_types: tuple[str, ...]
    agency: str
    urgency: str
    due_date: str
    status: FieldState
    service_start: str = ""

    def steps(self) -> list[dict[str, str]]:
        """Status history: the record's status, then each change (date, who)."""
        out = [{"status": self.status.initial, "date": self.date, "by": "record"}]
        out += [{"status": e.value, "date": e.date, "by": e.device} for e in self.status.history]
        return out

    def reached(self, statuses: Iterable[str]) -> str:
        """The first day its status was one of ``statuses`` ("" if never)."""
        wanted = set(statuses)
        if self.status.initial in wanted:
            return self.service_start or self.date
        days = [e.date for e in self.status.history if e.value in wanted]
        return min(days) if days else ""


@dataclass
class FollowUp:
    """One scheduled follow-up visit."""

    month: int
    target: str
    due: str
    status: FieldState
    due_field: FieldState
    visit_date: str = ""

    @property
    def done_on(self) -> str:
        """The visit day when done ("" otherwise)."""
        if self.status.value != "done":
            return ""
        for event in reversed(self.status.history):
            if event.value == "done":
                return event.date
        return self.visit_date

    def state(self, today: str) -> str:
        """done, missed, overdue (past its due day), due (window open) or scheduled."""
        value = self.status.value
        if value in ("done", "missed"):
            return value
        if self.due_field.value < today:
            return "overdue"
        return "due" if self.target <= today else "scheduled"

    def on_time(self) -> bool | None:
        """Done by its due day (None while it is not done or missed)."""
        if self.status.value == "missed":
            return False
        if self.status.value != "done":
            return None
        return bool(self.done_on) and self.done_on <= self.due_field.value


@dataclass
class CaseState:
    """Everything known about one case, derived."""

    code: str
    status: FieldState
    consents: list[dict[str, Any]] = field(default_factory=list)
    screenings: list[dict[str, Any]] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    fields: dict[str, FieldState] = field(default_factory=dict)
    held: list[CaseEvent] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    urgent: bool = False
    child: bool = False
    mine: bool = False
    identified: str = ""
    unreadable: int = 0

    @property
    def closed(self) -> bool:
        """Closed by a close event (or a follow-up that closed it) and not reopened."""
        return self.status.value == "closed"

    def conflicts(self) -> list[Conflict]:
        """Fields in conflict, by field name."""
        return [
            Conflict(self.code, name, f.values, f.heads)
            for name, f in sorted(self.fields.items())
            if f.conflict
        ]

    def first_service(self) -> str:
        """The first day a referral's service started ("" if none yet)."""
        days = [r.reached(_SERVED) for r in self.referrals]
        days = [d for d in days if d]
        return min(days) if days else ""

    def closed_on(self) -> str:
        """The day of the close that holds ("" while open)."""
        if not self.closed:
            return ""
        if self.status.history:
            return self.status.history[-1].date
        return max((r.capture_day for r in self.records), default="")

    def due_from(self) -> str | None:
        """The first day something falls due: an open follow-up's target, an unanswered
        referral's reply date (None when nothing is pending)."""
        days = [f.target for f in self.follow_ups if f.status.value == "scheduled"]
        days += [
            r.due_date for r in self.referrals if r.status.value in _OPEN_REFERRAL and r.due_date
        ]
        return min(days) if days else None

    def next_due(self) -> str | None:
        """The last on-time day of the first pending thing."""
        days = [f.due_field.value for f in self.follow_ups if f.status.value == "scheduled"]
        days += [
            r.due_date for r in self.referrals if r.status.value in _OPEN_REFERRAL and r.due_date
        ]
        return min(days) if days else None

    def missed(self) -> bool:
        """A follow-up was missed (DOMAIN §3: a missed visit is overdue)."""
        return any(f.status.value == "missed" for f in self.follow_ups)

    def overdue(self, today: str) -> bool:
        """Something is past its last on-time day, or a visit was missed."""
        due = self.next_due()
        return not self.closed and (self.missed() or (due is not None and due < today))

    def summary(self) -> dict[str, Any]:
        """What ``cases list`` shows: no names, no answers."""
        return {
            "case": self.code,
            "status": self.status.value,
            "next_due": self.next_due(),
            "due_from": self.due_from(),
            "missed": self.missed(),
            "urgent": self.urgent,
            "child": self.child,
            "mine": self.mine,
            "conflicts": len(self.conflicts()),
            "held": len(self.held),
            "identified": self.identified,
        }


def _current(records: Sequence[Record]) -> list[Record]:
    """Records not replaced by another of the case (an edit stands in for what it replaces)."""
    replaced = {r.replaces for r in records if r.replaces}
    return [r for r in records if r.id not in replaced]


def _roots(records: Sequence[Record]) -> dict[str, str]:
    """Each record id → the id of the first version in its chain of edits."""
    parent = {r.id: r.replaces for r in records}
    out = {}
    for rid in parent:
        root, seen = rid, {rid}
        while parent.get(root) and parent[root] in parent and parent[root] not in seen:
            root = parent[root] or root
            seen.add(root)
        out[rid] = root
    return out


def _heads(events: list[CaseEvent]) -> tuple[CaseEvent, ...]:
    based = {b for e in events for b in e.base}
    return tuple(e for e in events if e.id not in based)


def _when(record: Record) -> str:
    return _leaf(record.answers, "interview_date") or record.capture_day


def derive_case(
    code: str,
    records: Sequence[Record],
    *,
    events: Sequence[CaseEvent] | None = None,
    device_id: str = "",
    now_ms: int | None = None,
) -> CaseState:
    """The state of case ``code`` from its records (bundled forms and case events); ``events``
    already read (``ws.cases``) stand for the event records, which are then not in
    ``records``."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    finalized = [r for r in records if r.status != "draft"]
    current = _current([r for r in finalized if r.form_id != EVENT_FORM])
    state = CaseState(code=code, status=FieldState("status", "open"), records=current)
    if events is None:
        read = []
        for record in finalized:
            if record.form_id != EVENT_FORM:
                continue
            event = read_event(
                record_id=record.id,
                answers=record.answers,
                device=record.device,
                hlc=record.hlc,
                case=code,
            )
            if event is None:
                state.unreadable += 1
            else:
                read.append(event)
        events = read
    state.mine = any(r.device == device_id for r in finalized) or any(
        e.device == device_id for e in events
    )
    live: list[CaseEvent] = []
    bound = now + MAX_SKEW_MS
    for event in events:
        if event.wall_ms > bound:
            state.held.append(event)
        else:
            live.append(event)
    live.sort(key=lambda e: (e.hlc, e.id))
    state.events = live
    by_field: dict[str, list[CaseEvent]] = {}
    for event in live:
        by_field.setdefault(event.field, []).append(event)

    def field_state(name: str, initial: str) -> FieldState:
        events = by_field.get(name, [])
        fs = FieldState(name, initial, events, _heads(events))
        state.fields[name] = fs
        return fs

    ordered = sorted(current, key=lambda r: (_when(r), r.finalized_at or "", r.id))
    closed_by_visit = ""
    start = ""
    roots = _roots(finalized)
    visits: dict[int, Record] = {}
    referrals: list[tuple[Record, str]] = []
    for record in ordered:
        a = record.answers
        day = _when(record)
        if record.form_id == "consent":
            state.consents.append(
                {
                    "date": day,
                    "record": record.id,
                    "given": _leaf(a, "consent_given"),
                    "scopes": _leaf(a, "consent_scopes").split(),
                    "partners": _leaf(a, "share_partners").split(),
                    "route": _leaf(a, "route"),
                }
            )
            if _leaf(a, "is_minor") == "yes" or _leaf(a, "route") == "youth":
                state.child = True
        elif record.form_id in SCREENING_FORMS:
            result = _leaf(a, "screen_result")
            urgent = _leaf(a, "urgent") == "yes"
            child = _leaf(a, "child_trafficking_flag") == "yes" or _leaf(a, "is_minor") == "yes"
            state.screenings.append(
                {
                    "date": day,
                    "record": record.id,
                    "form": record.form_id,
                    "result": result,
                    "urgent": urgent,
                    "child_trafficking": _leaf(a, "child_trafficking_flag") == "yes",
                }
            )
            state.urgent |= urgent
            state.child |= child
            if result in ("positive", "negative", "inconclusive") and not start:
                start = day
            if result == "positive" and not state.identified:
                state.identified = day
        elif record.form_id == "referral":
            referrals.append((record, day))
            state.urgent |= _leaf(a, "urgency") == "emergency"
        elif record.form_id == "follow_up":
            visit_month = _leaf(a, "visit_month")
            if visit_month.isdigit() and int(visit_month) in FOLLOW_UP_MONTHS:
                visits[int(visit_month)] = record
            if _leaf(a, "urgent") == "yes":
                state.urgent = True
            if _leaf(a, "case_closed") == "yes":
                closed_by_visit = day
            start = start or _leaf(a, "case_start_date")
    state.status = field_state("status", "closed" if closed_by_visit else "open")
    for record, day in referrals:
        a = record.answers
        rid = referral_id(roots.get(record.id, record.id))
        state.referrals.append(
            Referral(
                id=rid,
                record_id=record.id,
                date=_leaf(a, "referral_date") or day,
                service_types=tuple(_leaf(a, "service_types").split()),
                agency=_leaf(a, "receiving_agency"),
                urgency=_leaf(a, "urgency"),
                due_date=_leaf(a, "due_date"),
                status=field_state(
                    f"referral/{rid}/status", _leaf(a, "referral_status") or "pending"
                ),
                service_start=_leaf(a, "service_start_date"),
            )
        )
    begin = _day(start)
    if begin is not None:
        for month in FOLLOW_UP_MONTHS:
            target = begin + timedelta(days=round(month * _MONTH_DAYS))
            due = target + timedelta(days=_GRACE_DAYS)
            visit = visits.get(month)
            visit_status = _leaf(visit.answers, "visit_status") if visit else ""
            state.follow_ups.append(
                FollowUp(
                    month=month,
                    target=target.isoformat(),
                    due=due.isoformat(),
                    status=field_state(
                        f"follow_up/{month}/status",
                        visit_status if visit_status in ("done", "missed") else "scheduled",
                    ),
                    due_field=field_state(f"follow_up/{month}/due", due.isoformat()),
                    visit_date=_leaf(visit.answers, "visit_date") if visit else "",
                )
            )
    # Fields changed by events that no record knows (assignment, a referral not here yet).
    for name in by_field:
        if name not in state.fields:
            field_state(name, "")
    assigned = state.fields.get("assigned_to")
    state.mine |= bool(device_id) and assigned is not None and assigned.value == device_id
    return state
