"""The report's time-based indicators read from cases, not from the last copy of a form.

A referral's status and its service start come from the case events that moved it (DESIGN
§5), so "accepted", "completed" and "days to first service" count what happened, not what
was typed when the referral was made. Follow-ups come from the case's schedule (1, 3, 6, 12
months from the screening, DOMAIN §3): a visit that never happened counts as missed once its
due day has passed, where a table of follow-up records could not know it was due at all.
Only codes, dates and statuses leave the case states; the report's suppression rules apply
to these frames as to every other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fieldkit.cases._state import _leaf

if TYPE_CHECKING:
    import pandas as pd

    from fieldkit.cases import CaseState

__all__ = ["follow_up_schedule", "with_referral_events"]


def with_referral_events(
    frames: Mapping[str, pd.DataFrame], states: Mapping[str, CaseState]
) -> dict[str, pd.DataFrame]:
    """The frames with each referral's status and service start as its case events left them."""
    import pandas as pd

    out = dict(frames)
    ref = out.get("referral")
    if ref is None or "_id" not in ref.columns:
        return out
    status: dict[str, str] = {}
    start: dict[str, str] = {}
    for state in states.values():
        for referral in state.referrals:
            status[referral.record_id] = referral.status.value
            start[referral.record_id] = referral.reached(("in_progress", "done"))
    ref = ref.copy()
    ids = [str(v) for v in ref["_id"]]

    def text(column: str, *, width: int | None = None) -> list[str]:
        if column not in ref.columns:
            return [""] * len(ids)
        return ["" if v is None or v != v else str(v)[:width] for v in ref[column]]

    # A typed date column reads as its day (a Timestamp's text carries a time).
    typed_status, typed_start = text("referral_status"), text("service_start_date", width=10)
    ref["referral_status"] = pd.Series(
        [status.get(i, old) for i, old in zip(ids, typed_status, strict=True)],
        index=ref.index, dtype="str",
    )  # fmt: skip
    ref["service_start_date"] = pd.Series(
        [start.get(i, old) for i, old in zip(ids, typed_start, strict=True)],
        index=ref.index, dtype="str",
    )  # fmt: skip
    out["referral"] = ref
    return out


def follow_up_schedule(states: Mapping[str, CaseState], *, today: str) -> pd.DataFrame:
    """One row per follow-up that has fallen due (done, missed, or past its due day), shaped
    like the follow_up form's table: what the follow-up indicators read."""
    import pandas as pd

    rows = []
    for code, state in states.items():
        site = ""
        for record in reversed(state.records):
            site = _leaf(record.answers, "site")
            if site:
                break
        for f in state.follow_ups:
            due = f.due_field.value
            status = f.status.value
            if status == "scheduled" and due >= today:
                continue  # not due yet: neither on time nor late
            done = f.done_on
            rows.append(
                {
                    "client_pseudonym": code,
                    "site": site,
                    "visit_month": str(f.month),
                    "visit_status": "done" if status == "done" else "missed",
                    "due_date": due,
                    "visit_date": done,
                    "case_closed": "yes" if state.closed else "no",
                    "interview_date": done or due,
                }
            )
    columns = ["client_pseudonym", "site", "visit_month", "visit_status", "due_date",
               "visit_date", "case_closed", "interview_date"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns).astype("str")
    # Dates typed as the export types them, so these rows sit beside follow_up records.
    for column in ("due_date", "visit_date", "interview_date"):
        frame[column] = pd.to_datetime(frame[column], errors="coerce", format="%Y-%m-%d")
    return frame
