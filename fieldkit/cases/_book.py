"""The cases of one workspace: index, list, show, change (DESIGN §5).

A field laptop sees the cases of its own records and events; a coordinator's laptop, after
``fieldkit pull``, everyone's. Each command first *refreshes*: the records finalized or pulled
since the last refresh are linked to their case code and only the cases they touch are
derived again, so a list of 10,000 cases reads a table. Every change is a new case event (a
record of ``fieldkit.case_event``), checked against the case's current state here, on the
laptop that makes it; history is never rewritten.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from fieldkit.capture._case_code import is_case_code, normalize_case_code, similar_codes
from fieldkit.cases._events import (
    EVENT_FORM,
    EVENT_VERSION,
    FOLLOW_UP_MONTHS,
    FOLLOW_UP_STATUSES,
    REFERRAL_STATUSES,
    CaseEvent,
    event_answers,
    event_from_row,
    field_problem,
    read_event,
)
from fieldkit.cases._state import MAX_SKEW_MS, CaseState, Conflict, FieldState, _leaf, derive_case
from fieldkit.clock import HLC, utc_day
from fieldkit.errors import CaseError, CaseNotFound, UsageError

if TYPE_CHECKING:
    from fieldkit.store import Workspace

__all__ = [
    "NEXT_STATUS",
    "all_cases",
    "case_list",
    "case_state",
    "change_case",
    "close_case",
    "find_case",
    "list_conflicts",
    "refresh",
    "reopen_case",
    "resolve_conflict",
    "update_follow_up",
    "update_referral",
]

_MARK = "cases.indexed"
_STALE = "cases.stale"  # set by the store's triggers when a case's record is deleted
# The referral's status machine (DOMAIN §3, forms/README.md: referral).
NEXT_STATUS: dict[str, tuple[str, ...]] = {
    "pending": ("accepted", "rejected"),
    "accepted": ("in_progress",),
    "in_progress": ("done",),
    "rejected": (),
    "done": (),
}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _store_row(state: CaseState) -> tuple[str, dict[str, Any], str | None, bool, int | None]:
    summary = state.summary()
    due = summary["due_from"]
    missed = [f.target for f in state.follow_ups if f.status.value == "missed"]
    if missed:
        due = min([due, *missed]) if due else min(missed)
    held = min((e.wall_ms for e in state.held), default=None)
    return state.code, summary, due, state.closed, held


def refresh(ws: Workspace, *, codes: Iterable[str] = ()) -> int:
    """Link new records to their cases and derive the cases they touch again (and ``codes``,
    and those whose held-back events' time has come); returns how many were derived."""
    mark = ws.state.get(_MARK) or {"rowid": 0, "drafts": []}
    now = _now_ms()
    with ws.transaction():
        top = ws.cases.max_rowid()
        touched = set(codes)
        links, events = [], []
        since = ws.cases.finalized_since(int(mark["rowid"]), mark["drafts"])
        for record_id, form_id, text, device, hlc in since:
            answers = json.loads(text)
            if form_id == EVENT_FORM:
                # Read once, here; a malformed event is linked to no case and left out.
                event = read_event(record_id=record_id, answers=answers, device=device, hlc=hlc)
                code = event.case if event is not None else ""
                if event is not None:
                    events.append(event.row())
            else:
                code = _leaf(answers, "client_pseudonym")
                code = code if is_case_code(code) else ""
            links.append((record_id, code if form_id != EVENT_FORM or not code else ""))
            if code:
                touched.add(code)
        # Held-back events whose claimed time is now within the bound count from now on.
        touched |= set(ws.cases.held_before(now + MAX_SKEW_MS))
        if ws.state.get(_STALE):
            # Records were deleted (an order): derive again what is left of their cases.
            touched |= set(ws.cases.unsummarised())
            ws.state.delete(_STALE)
        drafts = ws.cases.draft_ids()
        if not links and not touched and top == mark["rowid"] and drafts == mark["drafts"]:
            return 0  # nothing new: a list stays a read
        ws.cases.link(links)
        ws.cases.add_events(events)
        _rederive(ws, touched, now)
        ws.state.set(_MARK, {"rowid": top, "drafts": drafts})
    return len(touched)


def _rederive(ws: Workspace, codes: set[str], now: int) -> None:
    if not codes:
        return
    states = _derived(ws, codes, now)
    ws.cases.put([_store_row(s) for s in states.values()])
    ws.cases.drop(codes - set(states))


def _derived(ws: Workspace, codes: Iterable[str], now: int) -> dict[str, CaseState]:
    wanted = set(codes)
    records = ws.cases.records(wanted)
    events = ws.cases.events(wanted)
    return {
        code: derive_case(
            code,
            records.get(code, []),
            events=[event_from_row(r) for r in events.get(code, [])],
            device_id=ws.device_id,
            now_ms=now,
        )
        for code in sorted(set(records) | set(events))
    }


def all_cases(ws: Workspace, *, now_ms: int | None = None) -> dict[str, CaseState]:
    """Every case derived afresh from its records and events (the report, the benchmark)."""
    refresh(ws)
    now = _now_ms() if now_ms is None else now_ms
    return {
        code: derive_case(
            code,
            records,
            events=[event_from_row(r) for r in rows],
            device_id=ws.device_id,
            now_ms=now,
        )
        for code, records, rows in ws.cases.every_case()
    }


def case_list(
    ws: Workspace, *, due: bool = False, mine: bool = False, today: str | None = None
) -> list[dict[str, Any]]:
    """Cases by code: status, next due day, flags (urgent, child, overdue) — no answers.
    ``due``: open cases with something due today or earlier; ``mine``: this laptop's."""
    refresh(ws)
    day = today or utc_day()
    rows = ws.cases.summaries(due_by=day if due else None)
    out = []
    for row in rows:
        s = row.summary
        if mine and not s.get("mine"):
            continue
        closed = s["status"] == "closed"
        overdue = not closed and (
            bool(s.get("missed")) or (s["next_due"] is not None and s["next_due"] < day)
        )
        flags = [name for name, on in (("urgent", s["urgent"]), ("child", s["child"]),
                                       ("overdue", overdue)) if on]  # fmt: skip
        if s.get("conflicts"):
            flags.append("conflict")
        out.append(
            {
                "case": row.case_code,
                "status": s["status"],
                "next_due": None if closed else s["next_due"],
                "flags": flags,
                "conflicts": s.get("conflicts", 0),
                "held": s.get("held", 0),
            }
        )
    return out


def find_case(ws: Workspace, text: str) -> str:
    """The case code ``text`` names (typed loosely), or ``CaseNotFound`` with near misses."""
    refresh(ws)
    code = normalize_case_code(text)
    if ws.cases.has(code):
        return code
    near = similar_codes(code, ws.cases.codes())
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    if not is_case_code(code):
        raise CaseNotFound(f"not a case code (check the characters: they carry a check){hint}")
    raise CaseNotFound(f"no case {code} on this laptop{hint}")


def case_state(ws: Workspace, text: str) -> CaseState:
    """The derived state of one case."""
    code = find_case(ws, text)
    return _derived(ws, [code], _now_ms())[code]


def _day(text: str | None) -> str:
    today = utc_day()
    if text is None:
        return today
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError("--date must be a day, YYYY-MM-DD") from None
    if day.isoformat() > today:
        raise UsageError("--date cannot be after today")
    return day.isoformat()


def change_case(
    ws: Workspace,
    state: CaseState,
    field: str,
    value: str,
    *,
    day: str | None = None,
    action: str = "update",
    base: tuple[str, ...] | None = None,
) -> CaseEvent:
    """Record one change of one field as a new event (the lowest-level change; checked)."""
    problem = field_problem(field, value)
    if problem is not None:
        raise UsageError(problem)
    current = state.fields.get(field)
    heads = current.heads if current is not None else ()
    if base is None:
        if current is not None and current.conflict:
            raise CaseError(
                f"{field} of case {state.code} is in conflict: `fieldkit cases resolve "
                f"{state.code} {field} --take VALUE` first"
            )
        base = tuple(e.id for e in heads)
    answers = event_answers(
        case=state.code, field=field, value=value, base=base, day=_day(day), action=action
    )
    with ws.transaction():
        # The new event comes after everything it is based on, on any laptop's clock.
        for event in heads:
            ws.clock.observe(event.hlc)
        record = ws.records.add_finalized(
            form_id=EVENT_FORM, form_version=EVENT_VERSION, answers=answers
        )
        refresh(ws)
    return CaseEvent(
        id=record.id,
        case=state.code,
        field=field,
        value=value,
        base=tuple(sorted(base)),
        date=answers[next(k for k in answers if k.endswith("/date"))],
        action=action,
        device=record.device,
        hlc=record.hlc or "",
        wall_ms=HLC.parse(record.hlc).wall_ms if record.hlc else 0,
    )


def update_referral(
    ws: Workspace, text: str, referral: str, status: str, *, day: str | None = None
) -> CaseEvent:
    """Move a referral on: pending → accepted | rejected → in_progress → done."""
    if status not in REFERRAL_STATUSES:
        raise UsageError("--status must be one of " + ", ".join(REFERRAL_STATUSES))
    state = case_state(ws, text)
    wanted = referral.strip().lower().replace("-", "")
    found = [r for r in state.referrals if r.id.startswith(wanted)] if len(wanted) >= 4 else []
    if len(found) != 1:
        ids = ", ".join(r.id for r in state.referrals) or "none"
        raise UsageError(f"no single referral {referral} in case {state.code} (referrals: {ids})")
    ref = found[0]
    if ref.status.conflict:
        raise CaseError(
            f"the status of referral {ref.id} is in conflict: `fieldkit cases resolve "
            f"{state.code} {ref.status.name} --take STATUS` first"
        )
    allowed = NEXT_STATUS[ref.status.value]
    if status not in allowed:
        then = " or ".join(allowed) if allowed else "nothing (it is final)"
        raise CaseError(f"referral {ref.id} is {ref.status.value}: it can become {then}")
    return change_case(ws, state, ref.status.name, status, day=day)


def update_follow_up(
    ws: Workspace,
    text: str,
    month: int,
    *,
    status: str | None = None,
    due: str | None = None,
    day: str | None = None,
) -> list[CaseEvent]:
    """Record a follow-up visit done or missed, or move its due day."""
    if month not in FOLLOW_UP_MONTHS:
        raise UsageError("--follow-up is 1, 3, 6 or 12 (months)")
    if status is None and due is None:
        raise UsageError("give --status and/or --due for a follow-up")
    if status is not None and status not in FOLLOW_UP_STATUSES:
        raise UsageError("--status of a follow-up is one of " + ", ".join(FOLLOW_UP_STATUSES))
    state = case_state(ws, text)
    if not state.follow_ups:
        raise CaseError(f"case {state.code} has no screening yet: no follow-ups are scheduled")
    made = []
    if due is not None:
        try:
            due = date.fromisoformat(due).isoformat()
        except ValueError:
            raise UsageError("--due must be a day, YYYY-MM-DD") from None
        made.append(change_case(ws, state, f"follow_up/{month}/due", due, day=day))
        state = case_state(ws, state.code)
    if status is not None:
        current = state.fields[f"follow_up/{month}/status"]
        if current.value == status and not current.conflict:
            raise CaseError(f"the {month}-month follow-up is already {status}")
        made.append(change_case(ws, state, current.name, status, day=day))
    return made


def close_case(ws: Workspace, text: str, *, day: str | None = None) -> CaseEvent:
    """Close a case: it leaves the due lists (a case already closed is not closed twice)."""
    state = case_state(ws, text)
    if state.closed and not state.status.conflict:
        raise CaseError(f"case {state.code} is already closed")
    return change_case(ws, state, "status", "closed", day=day, action="close")


def reopen_case(ws: Workspace, text: str, *, day: str | None = None) -> CaseEvent:
    """Reopen a closed case."""
    state = case_state(ws, text)
    if not state.closed and not state.status.conflict:
        raise CaseError(f"case {state.code} is open")
    return change_case(ws, state, "status", "open", day=day, action="reopen")


def list_conflicts(ws: Workspace) -> list[Conflict]:
    """Every field in conflict, once, by case code then field."""
    refresh(ws)
    out: list[Conflict] = []
    rows = [r for r in ws.cases.summaries() if r.summary.get("conflicts")]
    for state in _derived(ws, [r.case_code for r in rows], _now_ms()).values():
        out += state.conflicts()
    return out


def resolve_conflict(
    ws: Workspace, text: str, field: str, take: str, *, day: str | None = None
) -> CaseEvent:
    """A person's decision on a conflict: ``take`` (one of the values kept) becomes the value."""
    state = case_state(ws, text)
    current: FieldState | None = state.fields.get(field)
    if current is None or not current.conflict:
        raise CaseError(f"{field} of case {state.code} is not in conflict")
    if take not in current.values:
        raise UsageError(f"--take one of: {', '.join(current.values)}")
    return change_case(ws, state, field, take, day=day, action="resolve", base=current.base())


def held_text(state: CaseState) -> str | None:
    """What to say of events held back (their device's clock is ahead of this one's)."""
    if not state.held:
        return None
    first = min(e.wall_ms for e in state.held)
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(first / 1000, UTC).strftime("%Y-%m-%d")
    return (
        f"{len(state.held)} change(s) held back: their device's clock is ahead "
        f"(they claim {when}); they count once this laptop's clock reaches that day"
    )
