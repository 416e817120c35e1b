"""Cases across laptops through a real server and the cutting proxy (issue 15, Faults).

Two coordinators' laptops pull a person's file, go offline for a week and each change the same
referral and the same follow-up (and one field more each); they sync in either order through
a proxy that cuts connections at random bytes. Every laptop that can read the case ends in the
same state, each conflict is listed once with both values, and no event is lost. A field
laptop whose clock runs a year ahead cannot win; one a year behind merges as any other.
(A field laptop reads only its own records: other laptops' changes reach it once a case is
assigned to it.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _client_kit import enroll, project, workspace
from _proxy import CuttingProxy, random_plan
from cases_kit import add_forms, person
from conftest import RunningServer

import fieldkit.clock
from fieldkit import exchange
from fieldkit.cases import (
    EVENT_FORM,
    case_list,
    case_state,
    list_conflicts,
    resolve_conflict,
    update_follow_up,
    update_referral,
)
from fieldkit.errors import SyncError
from fieldkit.store import Workspace
from sync.client import Retry, Timeouts

FAST_RETRY = Retry(attempts=3, base=0.005, cap=0.05)
TIMEOUTS = Timeouts(connect=2, read=10)
YEAR_MS = 365 * 86_400_000


def _until_synced(ws: Workspace, url: str) -> None:
    """Sync through a link that keeps cutting until one sync goes through (nothing waits)."""
    for _ in range(60):
        try:
            exchange.sync(ws, server=url, retry=FAST_RETRY, timeouts=TIMEOUTS, batch_size=2)
        except SyncError:
            continue
        if not ws.records.unsent():
            return
    raise AssertionError("sixty syncs through the proxy never went through")


def _fingerprint(ws: Workspace, code: str) -> dict[str, Any]:
    state = case_state(ws, code)
    return {
        "fields": {name: f.values for name, f in sorted(state.fields.items()) if f.history},
        "follow_ups": [(f.month, f.status.values, f.due_field.value) for f in state.follow_ups],
        "conflicts": [(c.field, c.values) for c in state.conflicts()],
    }


@contextlib.contextmanager
def clock_offset(monkeypatch: pytest.MonkeyPatch, ms: int) -> Iterator[None]:
    """This process's wall clock, as the HLC reads it, moved by ``ms``."""
    real = fieldkit.clock._wall_ms
    monkeypatch.setattr(fieldkit.clock, "_wall_ms", lambda: real() + ms)
    try:
        yield
    finally:
        monkeypatch.setattr(fieldkit.clock, "_wall_ms", real)


@pytest.mark.safety
@pytest.mark.parametrize("first", ["north", "south"])
def test_two_laptops_offline_change_the_same_referral_and_follow_up(
    tmp_path: Path, sync_server: RunningServer, first: str
) -> None:
    url = sync_server.url
    north, field = project(tmp_path, url, sync_server.admin_token)
    south = workspace(tmp_path, "south")
    enroll(north, south, url, role="coordinator")
    exchange.sync(south)  # takes the project keys granted to it
    for ws in (north, south, field):
        add_forms(ws)
    code, _ = person(field, day="2026-01-15")
    exchange.sync(field)
    for ws in (north, south):
        exchange.pull(ws)
    rid = case_state(north, code).referrals[0].id
    assert case_state(south, code).referrals[0].id == rid

    # A week offline each. Same referral, same follow-up, from the same earlier values.
    update_referral(north, code, rid, "accepted", day="2026-01-20")
    update_follow_up(north, code, 1, status="done", day="2026-02-16")
    update_referral(south, code, rid, "rejected", day="2026-01-21")
    update_follow_up(south, code, 1, status="missed", day="2026-02-28")
    # A field each alone changed merges without a conflict.
    update_follow_up(south, code, 3, due="2026-05-10", day="2026-01-22")
    update_follow_up(field, code, 6, due="2026-08-01", day="2026-01-23")
    made = {
        r.id
        for ws in (north, south, field)
        for r in ws.records.list(form_id=EVENT_FORM)
        if r.origin == "local"
    }
    assert len(made) == 6

    order = [north, south] if first == "north" else [south, north]
    plan = random_plan(seed=15 + len(first), probability=0.5, max_up=2500, max_down=2500)
    with CuttingProxy(int(sync_server.url.rsplit(":", 1)[1]), plan) as proxy:
        _until_synced(field, proxy.url)
        for ws in order:
            _until_synced(ws, proxy.url)
        for ws in order:  # each takes in what the other sent
            _until_synced(ws, proxy.url)
        assert proxy.cuts > 0, "the proxy cut nothing: the fault was not reached"

    expected = {
        "fields": {
            "follow_up/1/status": ("missed", "done") if first == "south" else ("done", "missed"),
            "follow_up/3/due": ("2026-05-10",),
            "follow_up/6/due": ("2026-08-01",),
            f"referral/{rid}/status": ("accepted", "rejected"),
        },
    }
    a, b = _fingerprint(north, code), _fingerprint(south, code)
    assert a == b, "two coordinators hold different states of one case"
    # Values are listed in clock order: whoever synced first, the same on both laptops.
    assert set(a["fields"]) == set(expected["fields"])
    for name, values in a["fields"].items():
        assert set(values) == set(expected["fields"][name])
    assert [c[0] for c in a["conflicts"]] == ["follow_up/1/status", f"referral/{rid}/status"]
    for ws in (north, south):
        listed = list_conflicts(ws)
        assert len(listed) == 2  # once each, not once per laptop or per sync
        held = {r.id for r in ws.records.list(form_id=EVENT_FORM)}
        assert made - {r.id for r in field.records.list(form_id=EVENT_FORM)} <= held
        assert made <= held, "an event was lost"
        row = {r["case"]: r for r in case_list(ws)}[code]
        assert "conflict" in row["flags"]

    # A person decides on one laptop; the other follows after its next sync.
    resolve_conflict(north, code, f"referral/{rid}/status", "accepted")
    resolve_conflict(north, code, "follow_up/1/status", "done")
    exchange.sync(north)
    exchange.sync(south)
    assert list_conflicts(south) == [] == list_conflicts(north)
    assert _fingerprint(north, code) == _fingerprint(south, code)
    assert case_state(south, code).referrals[0].status.value == "accepted"
    # The field laptop still holds its own view, nothing of it overwritten.
    assert case_state(field, code).fields["follow_up/6/due"].value == "2026-08-01"


@pytest.mark.safety
def test_a_clock_a_year_ahead_cannot_win_and_a_year_behind_merges(
    tmp_path: Path, sync_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sync_server.url
    coordinator, fast = project(tmp_path, url, sync_server.admin_token)
    slow = workspace(tmp_path, "slow")
    enroll(coordinator, slow, url)
    for ws in (coordinator, fast, slow):
        add_forms(ws)
    with clock_offset(monkeypatch, YEAR_MS):
        fast_code, _ = person(fast)
        fast_rid = case_state(fast, fast_code).referrals[0].id
        update_referral(fast, fast_code, fast_rid, "rejected")
        exchange.sync(fast)
    with clock_offset(monkeypatch, -YEAR_MS):
        slow_code, _ = person(slow)
        slow_rid = case_state(slow, slow_code).referrals[0].id
        update_referral(slow, slow_code, slow_rid, "accepted")
        update_referral(slow, slow_code, slow_rid, "in_progress")
        exchange.sync(slow)
    exchange.pull(coordinator)

    # Ahead: the change is held back, listed, and the coordinator's own change stands alone.
    state = case_state(coordinator, fast_code)
    assert state.referrals[0].status.value == "pending"
    assert len(state.held) == 1
    update_referral(coordinator, fast_code, fast_rid, "accepted")
    state = case_state(coordinator, fast_code)
    assert state.referrals[0].status.values == ("accepted",)
    assert {r["case"]: r for r in case_list(coordinator)}[fast_code]["held"] == 1
    # The coordinator's clock did not follow the fast laptop's a year ahead.
    assert fieldkit.clock.HLC.parse(coordinator.clock.tick()).wall_ms < time.time() * 1000 + 60_000

    # Behind: its changes name what they were based on and merge in their order.
    state = case_state(coordinator, slow_code)
    assert state.referrals[0].status.values == ("in_progress",)
    assert [s["status"] for s in state.referrals[0].steps()] == [
        "pending",
        "accepted",
        "in_progress",
    ]
    update_referral(coordinator, slow_code, slow_rid, "done")
    assert case_state(coordinator, slow_code).referrals[0].status.values == ("done",)
