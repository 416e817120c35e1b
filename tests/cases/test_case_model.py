"""The case model (DESIGN §5): state derived from records and events, fields merged by what
each change was based on, conflicts kept, clocks bounded. Events here are built as the records
two laptops would hold, so every order of arrival can be tried."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import pytest
from cases_kit import add_forms, person

from fieldkit.cases import (
    EVENT_FORM,
    EVENT_VERSION,
    MAX_SKEW_MS,
    case_list,
    case_state,
    close_case,
    derive_case,
    list_conflicts,
    reopen_case,
    resolve_conflict,
    update_follow_up,
    update_referral,
)
from fieldkit.cases._events import event_answers
from fieldkit.clock import HLC
from fieldkit.errors import CaseError, CaseNotFound, UsageError
from fieldkit.store import Record, Workspace, create_workspace

PASSPHRASE = "case model tests correct horse battery"
DAY_MS = 86_400_000
NOW_MS = 1_790_000_000_000  # 2026-09-21


@pytest.fixture
def ws(home: Path) -> Workspace:
    workspace, _ = create_workspace(home, passphrase=PASSPHRASE)
    add_forms(workspace)
    return workspace


def event(
    code: str,
    field: str,
    value: str,
    *,
    device: str,
    wall_ms: int,
    base: tuple[str, ...] = (),
    day: str = "2026-09-20",
) -> Record:
    """An event record as the laptop ``device`` would have made it at ``wall_ms``."""
    hlc = HLC(wall_ms, 0, device).text()
    return Record(
        id=str(uuid.uuid4()),
        form_id=EVENT_FORM,
        form_version=EVENT_VERSION,
        status="sent",
        replaces=None,
        case_id=None,
        created_at="2026-09-20T00:00:00.000Z",
        updated_at="2026-09-20T00:00:00.000Z",
        finalized_at="2026-09-20T00:00:00.000Z",
        answers=event_answers(
            case=code, field=field, value=value, base=base, day=day, action="update"
        ),
        origin="received",
        device=device,
        capture_day=day,
        hlc=hlc,
    )


def test_a_referral_moves_through_its_statuses_as_events(ws: Workspace) -> None:
    code, ref = person(ws)
    assert ref is not None
    state = case_state(ws, code)
    (referral,) = state.referrals
    assert referral.status.value == "pending"
    with pytest.raises(CaseError, match="pending: it can become accepted or rejected"):
        update_referral(ws, code, referral.id, "done")
    update_referral(ws, code, referral.id, "accepted", day="2026-01-20")
    update_referral(ws, code, referral.id, "in_progress", day="2026-01-25")
    update_referral(ws, code, referral.id, "done", day="2026-03-01")
    state = case_state(ws, code)
    (referral,) = state.referrals
    assert [s["status"] for s in referral.steps()] == ["pending", "accepted", "in_progress", "done"]
    assert [s["date"] for s in referral.steps()][1:] == ["2026-01-20", "2026-01-25", "2026-03-01"]
    assert {s["by"] for s in referral.steps()[1:]} == {ws.device_id}
    assert state.first_service() == "2026-01-25"
    with pytest.raises(CaseError, match="it can become nothing"):
        update_referral(ws, code, referral.id, "accepted")
    # No new copy of the referral: one referral record, three event records.
    assert len(ws.records.list(form_id="referral")) == 1
    assert len(ws.records.list(form_id=EVENT_FORM)) == 3


def test_bad_changes_are_one_clear_error(ws: Workspace) -> None:
    code, _ = person(ws)
    with pytest.raises(UsageError, match="--status must be one of"):
        update_referral(ws, code, "abcd", "finished")
    with pytest.raises(UsageError, match="no single referral"):
        update_referral(ws, code, "ffff", "accepted")
    with pytest.raises(UsageError, match="cannot be after today"):
        close_case(ws, code, day="2999-01-01")
    with pytest.raises(UsageError, match="1, 3, 6 or 12"):
        update_follow_up(ws, code, 2, status="done")
    with pytest.raises(CaseNotFound, match="check the characters"):
        case_state(ws, "2K-YQWX-0")
    typo = code[:3] + ("A" if code[3] != "A" else "B") + code[4:]
    with pytest.raises(CaseNotFound) as found:
        case_state(ws, typo)
    assert f"did you mean {code}?" in str(found.value)


def test_follow_ups_fall_due_become_overdue_and_closed_cases_leave_the_list(
    ws: Workspace,
) -> None:
    code, _ = person(ws, day="2026-01-15")
    other, _ = person(ws, day="2026-01-15", referral=False)
    state = case_state(ws, code)
    assert [f.month for f in state.follow_ups] == [1, 3, 6, 12]
    one = state.follow_ups[0]
    assert (one.target, one.due) == ("2026-02-14", "2026-02-28")  # 30.44 days, then 14
    assert one.state("2026-02-01") == "scheduled"
    assert one.state("2026-02-20") == "due"
    assert one.state("2026-03-01") == "overdue"
    before = {r["case"] for r in case_list(ws, due=True, today="2026-02-20")}
    assert {code, other} <= before
    assert case_list(ws, due=True, today="2026-01-10") == []  # nothing due yet
    # The referral awaits its reply by its due date: due that day, before any follow-up.
    assert [r["case"] for r in case_list(ws, due=True, today="2026-01-15")] == [code]
    update_follow_up(ws, other, 1, status="done", day="2026-02-20")
    state = case_state(ws, other)
    assert state.follow_ups[0].on_time() is True
    listed = {r["case"]: r for r in case_list(ws, today="2026-03-01")}
    assert "overdue" in listed[code]["flags"]
    assert "overdue" not in listed[other]["flags"]
    assert listed[other]["next_due"] == "2026-04-30"
    close_case(ws, code, day="2026-03-01")
    assert code not in {r["case"] for r in case_list(ws, due=True, today="2026-03-01")}
    with pytest.raises(CaseError, match="already closed"):
        close_case(ws, code)
    reopen_case(ws, code, day="2026-03-02")
    assert code in {r["case"] for r in case_list(ws, due=True, today="2026-03-03")}
    # A missed visit is overdue (DOMAIN §3), and stays due until it is done or moved.
    update_follow_up(ws, other, 3, status="missed", day="2026-05-01")
    row = {r["case"]: r for r in case_list(ws, due=True, today="2026-05-02")}[other]
    assert "overdue" in row["flags"]
    update_follow_up(ws, other, 3, status="scheduled", due="2026-05-20", day="2026-05-02")
    row = {r["case"]: r for r in case_list(ws, today="2026-05-03")}[other]
    assert "overdue" not in row["flags"] and row["next_due"] == "2026-05-20"


def _two_laptops(code: str, rid: str) -> tuple[list[Record], Record, Record, Record, Record]:
    """Laptop A accepted the referral, B rejected it, from the same pending; both changed the
    1-month follow-up; A also closed nothing, B moved nothing else."""
    a_ref = event(code, f"referral/{rid}/status", "accepted", device="laptopA", wall_ms=NOW_MS)
    b_ref = event(code, f"referral/{rid}/status", "rejected", device="laptopB", wall_ms=NOW_MS + 5)
    a_fu = event(code, "follow_up/1/status", "done", device="laptopA", wall_ms=NOW_MS + 9)
    b_fu = event(code, "follow_up/1/status", "missed", device="laptopB", wall_ms=NOW_MS + 2)
    b_other = event(code, "follow_up/3/due", "2026-05-30", device="laptopB", wall_ms=NOW_MS + 3)
    return [a_ref, b_ref, a_fu, b_fu, b_other], a_ref, b_ref, a_fu, b_fu


def test_same_field_from_the_same_value_is_a_conflict_in_every_order(ws: Workspace) -> None:
    code, _ = person(ws)
    case_state(ws, code)  # indexes the records
    base_records = ws.cases.records([code])[code]
    rid = case_state(ws, code).referrals[0].id
    events, a_ref, b_ref, *_ = _two_laptops(code, rid)
    seen = set()
    for order in itertools.permutations(events):
        state = derive_case(code, [*base_records, *order], now_ms=NOW_MS)
        (referral,) = state.referrals
        fingerprint = (
            referral.status.values,
            state.fields["follow_up/1/status"].values,
            state.fields["follow_up/3/due"].value,
            tuple((c.field, c.values) for c in state.conflicts()),
        )
        seen.add(fingerprint)
    assert seen == {
        (
            ("accepted", "rejected"),
            ("missed", "done"),
            "2026-05-30",
            (
                ("follow_up/1/status", ("missed", "done")),
                (f"referral/{rid}/status", ("accepted", "rejected")),
            ),
        )
    }
    # A later change that saw A's value is no conflict: it is based on it.
    after = event(code, f"referral/{rid}/status", "in_progress", device="laptopB",
                  wall_ms=NOW_MS + 50, base=(a_ref.id,))  # fmt: skip
    state = derive_case(code, [*base_records, a_ref, after], now_ms=NOW_MS)
    assert state.referrals[0].status.values == ("in_progress",)
    # The same value from both laptops is no conflict either.
    twin = event(code, f"referral/{rid}/status", "accepted", device="laptopB", wall_ms=NOW_MS + 1)
    state = derive_case(code, [*base_records, a_ref, twin], now_ms=NOW_MS)
    assert not state.referrals[0].status.conflict


def test_conflicts_are_listed_once_and_a_person_resolves_them(ws: Workspace) -> None:
    code, _ = person(ws)
    rid = case_state(ws, code).referrals[0].id
    now = HLC.parse(ws.clock.tick()).wall_ms
    field = f"referral/{rid}/status"
    for device, value, wall in (
        ("laptopA", "accepted", now - 10),
        ("laptopB", "rejected", now - 5),
    ):
        rec = event(code, field, value, device=device, wall_ms=wall)
        ws.records.import_received(
            record_id=rec.id, form_id=rec.form_id, form_version=rec.form_version,
            answers=rec.answers, device=device, capture_day=rec.capture_day,
            finalized_at=rec.finalized_at or "", hlc=rec.hlc,
        )  # fmt: skip
    (conflict,) = list_conflicts(ws)
    assert (conflict.case, conflict.field, conflict.values) == (
        code,
        field,
        ("accepted", "rejected"),
    )
    assert "conflict" in case_list(ws)[0]["flags"]
    with pytest.raises(CaseError, match="in conflict"):
        update_referral(ws, code, rid, "in_progress")
    with pytest.raises(UsageError, match="--take one of: accepted, rejected"):
        resolve_conflict(ws, code, field, "done")
    resolve_conflict(ws, code, field, "accepted")
    assert list_conflicts(ws) == []
    state = case_state(ws, code)
    assert state.referrals[0].status.value == "accepted"
    # Both values are kept in the history: nothing lost.
    assert [e.value for e in state.referrals[0].status.history] == [
        "accepted", "rejected", "accepted"
    ]  # fmt: skip
    update_referral(ws, code, rid, "in_progress")


def test_a_clock_a_year_ahead_is_held_back_and_one_a_year_behind_merges(ws: Workspace) -> None:
    code, _ = person(ws)
    case_state(ws, code)
    base_records = ws.cases.records([code])[code]
    rid = case_state(ws, code).referrals[0].id
    field = f"referral/{rid}/status"
    ahead = event(code, field, "rejected", device="fast", wall_ms=NOW_MS + 365 * DAY_MS)
    honest = event(code, field, "accepted", device="honest", wall_ms=NOW_MS - 1000)
    state = derive_case(code, [*base_records, ahead, honest], now_ms=NOW_MS)
    assert state.referrals[0].status.value == "accepted"
    assert not state.referrals[0].status.conflict
    assert [e.id for e in state.held] == [ahead.id]
    # Within the bound it counts (and conflicts, since it was based on nothing).
    near = event(code, field, "rejected", device="fast", wall_ms=NOW_MS + MAX_SKEW_MS - 1)
    assert (
        derive_case(code, [*base_records, near, honest], now_ms=NOW_MS).referrals[0].status.conflict
    )
    # A laptop a year behind: its change, based on what it saw, follows the one it saw.
    slow = event(code, field, "in_progress", device="slow", wall_ms=NOW_MS - 365 * DAY_MS,
                 base=(honest.id,))  # fmt: skip
    state = derive_case(code, [*base_records, slow, honest], now_ms=NOW_MS)
    assert state.referrals[0].status.values == ("in_progress",)
    # The held event counts once this laptop's clock reaches it.
    later = derive_case(code, [*base_records, ahead, honest], now_ms=NOW_MS + 366 * DAY_MS)
    assert later.held == [] and later.referrals[0].status.conflict


def test_a_new_event_comes_after_the_ones_it_is_based_on(ws: Workspace) -> None:
    code, _ = person(ws)
    rid = case_state(ws, code).referrals[0].id
    # A change pulled from a laptop whose clock ran 30 minutes ahead (within the bound).
    ahead = HLC.parse(ws.clock.tick()).wall_ms + 30 * 60 * 1000
    rec = event(code, f"referral/{rid}/status", "accepted", device="ahead", wall_ms=ahead)
    ws.records.import_received(
        record_id=rec.id, form_id=rec.form_id, form_version=rec.form_version,
        answers=rec.answers, device="ahead", capture_day=rec.capture_day,
        finalized_at=rec.finalized_at or "", hlc=rec.hlc,
    )  # fmt: skip
    made = update_referral(ws, code, rid, "in_progress")
    assert made.hlc > rec.hlc and made.base == (rec.id,)


def test_records_deleted_by_an_order_leave_the_case_index(ws: Workspace) -> None:
    from fieldkit.store.case_orders import CaseOrders

    code, ref = person(ws)
    other, _ = person(ws, referral=False)
    assert ref is not None
    update_referral(ws, code, case_state(ws, code).referrals[0].id, "accepted")
    assert {r["case"] for r in case_list(ws)} == {code, other}
    # A withdrawal deleting the referral only: the case stays, derived from what is left.
    CaseOrders(ws).delete_records([ref.id])
    assert {r["case"] for r in case_list(ws)} == {code, other}
    assert case_state(ws, code).referrals == []
    # An erasure deleting every record and event of the case: it leaves every list.
    ids = [r.id for r in ws.records.list() if code in r.answers.values()]
    CaseOrders(ws).delete_records(ids)
    assert [r["case"] for r in case_list(ws)] == [other]
    with pytest.raises(CaseNotFound):
        case_state(ws, code)
