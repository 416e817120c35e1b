"""Benchmark: 10,000 cases and 200,000 case events on a coordinator's laptop.

The coordinator's encrypted workspace holds, as a pull leaves them, a screening and a referral
per case and 20 events per case on average (referral statuses, follow-ups done, missed and
moved, closures and reopenings, a few concurrent changes that conflict). Timed:

- ``index``: the first ``cases`` command after the pull: every record linked to its case and
  every case's summary derived and stored (once per pull, then incremental);
- ``derive_all``: every case state derived again from its records and events (the report);
- ``list_due``: ``cases list --due`` (the library call; the CLI adds the unlock);
- ``one_event``: one referral moved on (checked, written durably, the case's summary updated).

Baseline in the same run: a plain pandas group-by (last value per case and field by clock)
over the same events, already in memory. Prints one JSON line.
Usage: ``python bench/cases.py [CASES] [EVENTS]``.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _kit import PASSPHRASE, load_average  # noqa: E402

from fieldkit.capture._case_code import ALPHABET, _check_character  # noqa: E402
from fieldkit.cases import (  # noqa: E402
    EVENT_FORM,
    EVENT_VERSION,
    NEXT_STATUS,
    all_cases,
    case_list,
    case_state,
    refresh,
    update_referral,
)
from fieldkit.cases._events import event_answers  # noqa: E402
from fieldkit.clock import HLC, utc_day  # noqa: E402
from fieldkit.store import create_workspace  # noqa: E402

DEVICES = [f"dev{n:02d}" for n in range(8)]


def _codes(n: int, rng: random.Random) -> list[str]:
    seen: set[str] = set()
    while len(seen) < n:
        payload = "".join(rng.choice(ALPHABET) for _ in range(6))
        seen.add(f"{payload[:2]}-{payload[2:]}-{_check_character(payload)}")
    return sorted(seen)


def _item(form_id: str, answers: dict[str, str], device: str, day: str, hlc: str) -> dict:
    return {
        "record_id": str(uuid.uuid4()),
        "form_id": form_id,
        "form_version": EVENT_VERSION if form_id == EVENT_FORM else "1",
        "answers": answers,
        "device": device,
        "capture_day": day,
        "finalized_at": f"{day}T10:00:00.000Z",
        "hlc": hlc,
    }


def _build(n_cases: int, n_events: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Records and events; also the events as plain rows for the pandas baseline."""
    items: list[dict] = []
    rows: list[dict] = []
    wall = int(time.time() * 1000) - 200 * 86_400_000
    per_case = n_events // n_cases
    for n, code in enumerate(_codes(n_cases, rng)):
        device = DEVICES[n % len(DEVICES)]
        day = f"2026-{1 + n % 9:02d}-{1 + n % 27:02d}"
        person = {"/data/client_pseudonym": code, "/data/header/site": "KE-0101",
                  "/data/header/interview_date": day}  # fmt: skip
        result = "positive" if n % 3 else "negative"
        screening = {**person, "/data/result/screen_result": result, "/data/urgent": "no"}
        items.append(_item("adult_screening", screening, device, day, HLC(wall, 0, device).text()))
        ref = _item("referral", {**person, "/data/status/referral_status": "pending",
                                 "/data/referral/service_types": "legal",
                                 "/data/status/due_date": day}, device, day,
                    HLC(wall, 1, device).text())  # fmt: skip
        items.append(ref)
        rid = ref["record_id"].replace("-", "")[:8]
        heads: dict[str, list[str]] = {}
        statuses = iter(["accepted", "in_progress", "done"][: rng.randrange(0, 3)])
        for k in range(per_case):
            wall += 1
            pick = k % 5
            if pick == 0 and (status := next(statuses, None)):
                field, value = f"referral/{rid}/status", status
            elif pick in (1, 2):
                month = (1, 3, 6, 12)[k % 4]
                field, value = f"follow_up/{month}/status", rng.choice(("done", "missed"))
            elif pick == 3:
                field, value = f"follow_up/{(1, 3, 6, 12)[k % 4]}/due", day
            else:
                field, value = "status", ("closed", "open")[k % 2]
            by = device if rng.random() < 0.97 else DEVICES[(n + 1) % len(DEVICES)]
            # Mostly based on what the writer saw; now and then a concurrent change.
            base = heads.get(field, []) if rng.random() < 0.98 else []
            answers = event_answers(case=code, field=field, value=value, base=base, day=day,
                                    action="update")  # fmt: skip
            event = _item(EVENT_FORM, answers, by, day, HLC(wall, 0, by).text())
            heads[field] = [event["record_id"]]
            items.append(event)
            rows.append({"case": code, "field": field, "value": value, "hlc": event["hlc"]})
    return items, rows


def main() -> None:
    n_cases = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_events = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    import pandas as pd

    rng = random.Random(15)
    items, rows = _build(n_cases, n_events, rng)
    with tempfile.TemporaryDirectory() as tmp:
        ws, _ = create_workspace(Path(tmp) / "coordinator", passphrase=PASSPHRASE)
        with ws:
            for start in range(0, len(items), 20_000):
                ws.records.import_many(items[start : start + 20_000])
            del items[:]  # the pull is done: only the workspace holds them now
            t = time.perf_counter()
            refresh(ws)
            index = time.perf_counter() - t
            t = time.perf_counter()
            states = all_cases(ws)
            derive_all = time.perf_counter() - t
            assert len(states) == n_cases
            conflicts = sum(len(s.conflicts()) for s in states.values())
            lists = []
            for _ in range(5):
                t = time.perf_counter()
                due = case_list(ws, due=True, today=utc_day())
                lists.append(time.perf_counter() - t)
            # One new event applied: a referral moved on to its next status, on 30 cases.
            movable = [(c, s.referrals[0]) for c, s in states.items()
                       if s.referrals and not s.referrals[0].status.conflict
                       and NEXT_STATUS[s.referrals[0].status.value]][:30]  # fmt: skip
            applied = []
            for code, referral in movable:
                step = NEXT_STATUS[referral.status.value][0]
                t = time.perf_counter()
                update_referral(ws, code, referral.id, step)
                applied.append(time.perf_counter() - t)
            pending = [code for code, _ in movable]
            derive_one = []
            for code in pending[:30]:
                t = time.perf_counter()
                case_state(ws, code)
                derive_one.append(time.perf_counter() - t)
    frame = pd.DataFrame(rows)
    t = time.perf_counter()
    frame.sort_values("hlc").groupby(["case", "field"], sort=False)["value"].last()
    baseline = time.perf_counter() - t
    print(
        json.dumps(
            {
                "benchmark": "cases",
                "cases": n_cases,
                "events": len(rows),
                "conflicts": conflicts,
                "index_s": round(index, 2),
                "derive_all_s": round(derive_all, 2),
                "list_due_median_s": round(statistics.median(lists), 3),
                "listed_due": len(due),
                "one_event_median_ms": round(statistics.median(applied) * 1000, 2)
                if applied
                else None,
                "one_case_state_median_ms": round(statistics.median(derive_one) * 1000, 2),
                "pandas_groupby_s": round(baseline, 3),
                "derive_all_ratio_to_pandas": round(derive_all / baseline, 1),
                "targets": {"derive_all_s": 10, "list_due_s": 0.5, "one_event_ms": 5},
                "load_average": load_average(),
            }
        )
    )


if __name__ == "__main__":
    main()
