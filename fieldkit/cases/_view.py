"""``cases show``: one person's file as a timeline, sensitive answers masked (DESIGN §3).

What is shown by default is what a worker needs to follow the case — consent scopes, screening
results, referrals and their status history, services, follow-ups — plus each record's
answers with every sensitive one masked. ``reveal`` shows those too, and writes an audit
entry per record shown (the audit holds the record id, never the answer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fieldkit.cases._book import case_state, held_text
from fieldkit.cases._state import CaseState
from fieldkit.clock import utc_day
from fieldkit.errors import FormError

if TYPE_CHECKING:
    from fieldkit.store import Workspace

__all__ = ["case_view"]


def _sensitive(ws: Workspace, cache: dict[tuple[str, str], frozenset[str] | None],
               form_id: str, version: str) -> frozenset[str] | None:  # fmt: skip
    key = (form_id, version)
    if key not in cache:
        try:
            cache[key] = ws.forms.get(form_id, version).sensitive_paths()
        except FormError:
            cache[key] = None  # a form not here: every answer masked
    return cache[key]


def _timeline(state: CaseState, today: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for c in state.consents:
        scopes = " ".join(c["scopes"]) or "none"
        text = f"consent {'given' if c['given'] == 'yes' else 'not given'}: {scopes}"
        items.append({"date": c["date"], "kind": "consent", "text": text})
    for s in state.screenings:
        text = f"{s['form']}: {s['result'] or 'not screened'}"
        if s["urgent"]:
            text += " (urgent)"
        if s["child_trafficking"]:
            text += " (child trafficking flag)"
        items.append({"date": s["date"], "kind": "screening", "text": text})
    for r in state.referrals:
        text = f"referral {r.id} to {r.agency or '?'}: {' '.join(r.service_types) or '?'}"
        items.append({"date": r.date, "kind": "referral", "text": text})
        for step in r.steps()[1:]:
            items.append(
                {"date": step["date"], "kind": "referral",
                 "text": f"referral {r.id} {step['status']} (by {step['by'][:12]})"}
            )  # fmt: skip
        start = r.reached(("in_progress", "done"))
        if start:
            items.append({"date": start, "kind": "service",
                          "text": f"service started: {' '.join(r.service_types)}"})  # fmt: skip
    for f in state.follow_ups:
        done = f.done_on
        if done:
            text = f"{f.month}-month follow-up done" + ("" if f.on_time() else " (late)")
            items.append({"date": done, "kind": "follow_up", "text": text})
        else:
            items.append({"date": f.target, "kind": "follow_up",
                          "text": f"{f.month}-month follow-up {f.state(today)}, "
                                  f"due by {f.due_field.value}"})  # fmt: skip
    for e in state.status.history:
        items.append({"date": e.date, "kind": "case", "text": f"case {e.value} by {e.device[:12]}"})
    items.sort(key=lambda i: i["date"])
    return items


def case_view(ws: Workspace, text: str, *, reveal: bool = False) -> dict[str, Any]:
    """One case, JSON-ready: status, flags, timeline, referrals, follow-ups, records."""
    from fieldkit.store.forms import mask_sensitive

    state = case_state(ws, text)
    today = utc_day()
    cache: dict[tuple[str, str], frozenset[str] | None] = {}
    records = []
    for record in state.records:
        answers = {p: v for p, v in record.answers.items() if v}
        if not reveal:
            answers = mask_sensitive(
                answers, _sensitive(ws, cache, record.form_id, record.form_version)
            )
        records.append(
            {"id": record.id, "form_id": record.form_id, "date": record.capture_day,
             "device": record.device, "answers": answers}
        )  # fmt: skip
    if reveal:
        with ws.transaction():
            for record in state.records:
                ws.audit.append("reveal", record_id=record.id, form_id=record.form_id)
    flags = [n for n, on in (("urgent", state.urgent), ("child", state.child),
                             ("overdue", state.overdue(today))) if on]  # fmt: skip
    return {
        "case": state.code,
        "status": state.status.value,
        "flags": flags,
        "identified": state.identified or None,
        "first_service": state.first_service() or None,
        "next_due": None if state.closed else state.next_due(),
        "consents": state.consents,
        "screenings": state.screenings,
        "referrals": [
            {
                "id": r.id,
                "date": r.date,
                "service_types": list(r.service_types),
                "agency": r.agency,
                "urgency": r.urgency,
                "due_date": r.due_date or None,
                "status": r.status.value,
                "conflict": list(r.status.values) if r.status.conflict else None,
                "history": r.steps(),
            }
            for r in state.referrals
        ],
        "follow_ups": [
            {
                "month": f.month,
                "target": f.target,
                "due": f.due_field.value,
                "state": f.state(today),
                "done_on": f.done_on or None,
                "on_time": f.on_time(),
            }
            for f in state.follow_ups
        ],
        "timeline": _timeline(state, today),
        "conflicts": [c.as_dict() for c in state.conflicts()],
        "held": held_text(state),
        "records": records,
        "revealed": reveal,
    }
