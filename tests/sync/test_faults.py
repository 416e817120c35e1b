"""Faults with real processes on 127.0.0.1: connections cut at random bytes both ways, the
server killed mid-batch, the client killed mid-push. Afterwards every record is on the server
exactly once, the coordinator holds each exactly once, and nothing is marked sent that the
server does not hold.

Each test counts the faults that landed where its name says (cuts inside pushes, pushes that
ran out of retries, kills inside a push) and fails when too few did: a fault test whose
faults all miss the window proves nothing. docs/internals.md ("How the safety tests are
proven") lists the deliberate breakages each of them was seen to catch.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from _client_kit import PASSPHRASE, capture, project, status_of
from _proxy import Cut, CuttingProxy, random_plan
from conftest import start_server_process

from fieldkit import exchange
from fieldkit.errors import SyncError
from fieldkit.exchange._pace import FIRST_BYTES
from fieldkit.exchange.transfer import PUSH_BATCH
from fieldkit.store import Workspace, open_workspace
from sync.client import Retry, Timeouts

pytestmark = pytest.mark.safety

FAST_RETRY = Retry(attempts=4, base=0.005, cap=0.05)
TIMEOUTS = Timeouts(connect=2, read=10)


def server_envelopes(url: str, token: str) -> collections.Counter[str]:
    """record id → how many times the server's feed holds it (read with a coordinator token)."""
    seen: collections.Counter[str] = collections.Counter()
    cursor = "0"
    while True:
        r = requests.get(
            url + "/v1/pull",
            params={"cursor": cursor, "limit": "1000"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        r.raise_for_status()
        page = r.json()
        for change in page["changes"]:
            if change["type"] == "envelope":
                seen[change["envelope"]["header"]["record_id"]] += 1
        cursor = page["next_cursor"]
        if not page["has_more"] or not page["changes"]:
            return seen


def assert_exactly_once(
    url: str, coordinator: Workspace, fields: list[Workspace], captured: set[str]
) -> None:
    """The end state every fault test must reach."""
    on_server = server_envelopes(url, coordinator.state.get("sync.token"))
    assert set(on_server) == captured
    assert all(n == 1 for n in on_server.values()), "a record is on the server twice"
    for field in fields:
        statuses = status_of(field)
        sent = {rid for rid, status in statuses.items() if status == "sent"}
        assert sent <= set(on_server), "a record is marked sent that the server lacks"
        assert sent == captured & set(statuses)
    received = [r.id for r in coordinator.records.list() if r.origin == "received"]
    assert len(received) == len(set(received)) == len(captured)
    assert set(received) == captured


def _settle(ws: Workspace, url: str) -> None:
    """Sync directly (no faults) until nothing waits."""
    for _ in range(5):
        summary = exchange.sync(ws, server=url, batch_size=50)
        if summary.waiting == 0:
            return
    raise AssertionError("records still waiting after clean syncs")


PUSH_REQUEST = b"POST /v1/push"
# The push reply's body, which the server gzips (the one reply it compresses): the gzip magic,
# deflate, no flags, no time stamp. The server has committed the batch.
PUSH_REPLY = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"


def sent_marks(ws: Workspace) -> set[str]:
    """The records this workspace has marked sent."""
    return {r for r, s in status_of(ws).items() if s == "sent"}


def assert_sent_held_once(url: str, token: str, ws: Workspace) -> dict[str, int]:
    """The invariant between any two syncs: sent ⊆ held by the server, each held once."""
    on_server = server_envelopes(url, token)
    assert all(n == 1 for n in on_server.values()), "a record is on the server twice"
    assert sent_marks(ws) <= set(on_server), "a record is marked sent that the server lacks"
    return dict(on_server)


@pytest.mark.slow
def test_connections_cut_at_random_bytes_both_ways(tmp_path: Path) -> None:
    """200 syncs through the cutting proxy, 20 of them through a link that fails every try."""
    _cut_runs(tmp_path, database_url=None, runs=200, seed=20261128)


@pytest.mark.slow
@pytest.mark.postgres
def test_connections_cut_at_random_bytes_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """60 syncs through the cutting proxy on PostgreSQL, 6 of them giving up."""
    _cut_runs(tmp_path, database_url=pg_url, runs=60, seed=4242)


def _cut_runs(tmp_path: Path, *, database_url: str | None, runs: int, seed: int) -> None:
    (tmp_path / "server").mkdir()  # its log lives there, also when the data is in PostgreSQL
    server = start_server_process(tmp_path / "server", database_url=database_url)
    try:
        coordinator, field = project(tmp_path, server.url, server.admin_token)
        token = coordinator.state.get("sync.token")
        captured: set[str] = set()
        gave_up: dict[int, list[str]] = {}  # run → the records it left waiting
        rng = random.Random(seed)
        plan = random_plan(seed=seed, probability=0.6, max_up=2600, max_down=3000)
        with CuttingProxy(server.port, plan) as proxy:
            for run in range(runs):
                fresh = capture(field, 2)
                captured.update(fresh)
                # Every tenth run the link fails on every try of a push, so the client runs out
                # of retries and must resume at a later run: cut inside the request (the server
                # never sees the batch) or inside the reply (it committed; the client never
                # learns it), alternately.
                storm = run % 10 == 4
                into_reply = (run // 10) % 2 == 1
                if storm:
                    cut = (
                        Cut("down", rng.randrange(0, 40), after=PUSH_REPLY)
                        if into_reply
                        else Cut("up", rng.randrange(0, 400), after=PUSH_REQUEST)
                    )
                    proxy.plan = lambda _, cut=cut: cut
                try:
                    exchange.sync(
                        field,
                        server=proxy.url,
                        batch_size=1 + run % 3,
                        retry=FAST_RETRY,
                        timeouts=TIMEOUTS,
                    )
                    assert not storm, "a push through a link that fails every try succeeded"
                except SyncError:
                    if storm:
                        gave_up[run] = fresh
                finally:
                    proxy.plan = plan
                if run % 10 == 9:
                    try:
                        exchange.pull(
                            coordinator,
                            server=proxy.url,
                            limit=7,
                            retry=FAST_RETRY,
                            timeouts=TIMEOUTS,
                        )
                    except SyncError:
                        pass  # the next pull goes on from the cursor it saved
                # The invariant holds after every run, not only at the end.
                on_server = assert_sent_held_once(server.url, token, field)
                if storm:
                    # The client's marks, not only the server's rows: nothing of this run is
                    # marked sent, whether or not the server committed it.
                    assert not set(fresh) & sent_marks(field)
                    held = set(fresh) & set(on_server)
                    assert held if into_reply else not held
            assert proxy.cuts > runs // 2, "the proxy must actually have cut connections"
            assert len(gave_up) == runs // 10, "every storm run must have run out of retries"
            # …and every record a give-up left waiting went out on a later run, through the
            # same faulty link, before the clean syncs below.
            resumed = set().union(*gave_up.values()) & sent_marks(field)
            assert resumed == set().union(*gave_up.values())
        _settle(field, server.url)
        exchange.pull(coordinator, server=server.url)
        assert_exactly_once(server.url, coordinator, [field], captured)
        assert len(captured) == 2 * runs
    finally:
        server.stop()


@pytest.mark.slow
def test_server_killed_mid_batch_then_restarted(tmp_path: Path) -> None:
    server = start_server_process(tmp_path / "server")
    try:
        coordinator, field = project(tmp_path, server.url, server.admin_token)
        captured: set[str] = set()
        rng = random.Random(7)
        kills = 0
        for _ in range(4):
            captured.update(capture(field, 400))
            started = threading.Event()

            def on_progress(phase: str, done: int, total: int | None) -> None:
                if phase == "push" and not started.is_set():
                    started.set()

            killer = threading.Thread(
                target=lambda: (started.wait(10), time.sleep(rng.uniform(0.0, 0.25)), server.kill())
            )
            killer.start()
            try:
                exchange.sync(field, batch_size=100, progress=on_progress, retry=FAST_RETRY)
            except SyncError:
                kills += 1
            killer.join()
            # What the client marked sent is on the server, even right after the crash.
            server.restart()
            on_server = server_envelopes(server.url, coordinator.state.get("sync.token"))
            assert {r for r, s in status_of(field).items() if s == "sent"} <= set(on_server)
        assert kills >= 2, "the server must have died under the client at least twice"
        _settle(field, server.url)
        exchange.pull(coordinator)
        assert_exactly_once(server.url, coordinator, [field], captured)
    finally:
        server.stop()


def _fieldkit(home: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, FIELDKIT_PASSPHRASE=PASSPHRASE)
    env.pop("FIELDKIT_HOME", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from fieldkit.cli import main; main()", "--home", str(home), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


# Where a kill lands inside `fieldkit sync`'s push (see test_client_killed_mid_push).
KILL_POINTS = [
    # nothing of the push reached the server
    ("request", Cut("up", 0, after=PUSH_REQUEST, hold=True)),
    # its head and part of its body reached the server, which waits for the rest
    ("request", Cut("up", 900, after=PUSH_REQUEST, hold=True)),
    # the server committed the batch and replied; the reply is frozen before the client
    # reads it, so the client has not marked it sent
    ("reply", Cut("down", 0, after=PUSH_REPLY, hold=True)),
]


@pytest.mark.slow
def test_client_killed_mid_push(tmp_path: Path) -> None:
    """kill -9 of `fieldkit sync` while a push is in flight, 6 times over.

    The proxy freezes one push (the 1st, 2nd or 3rd batch of the run) in the request or in the
    reply and the test kills the client while it waits for that push: every kill lands inside
    the push, between sending a batch and marking it sent, and the test counts that it did.
    """
    server = start_server_process(tmp_path / "server")
    try:
        coordinator, field = project(tmp_path, server.url, server.admin_token)
        field_home = tmp_path / "field"
        field.close()
        captured: set[str] = set()
        rng = random.Random(11)
        token = coordinator.state.get("sync.token")
        mid_push: collections.Counter[str] = collections.Counter()
        runs = 2 * len(KILL_POINTS)
        with CuttingProxy(server.port) as proxy:
            for run in range(runs):
                where, cut = KILL_POINTS[run % len(KILL_POINTS)]
                nth = rng.randrange(3)  # which of the run's three batches is frozen
                with open_workspace(field_home, passphrase=PASSPHRASE) as ws:
                    # Fresh work: three pushes or more of the sizes a sync starts with.
                    captured.update(capture(ws, 3 * PUSH_BATCH))
                    exchange.seal_pending(ws)  # as sync does first
                    unsent = ws.records.unsent()
                    waiting = {e.record_id for e in unsent}
                    # No push is smaller than the first of a sync (exchange._pace).
                    smallest = FIRST_BYTES // max(len(e.envelope) for e in unsent)
                proxy.arm(cut, skip=nth)
                proc = _fieldkit(field_home, "sync", "--server", proxy.url)
                assert proxy.held.wait(60), "the push never reached the point to freeze"
                time.sleep(rng.uniform(0.0, 0.05))
                assert proc.poll() is None, "the client finished a push the proxy froze"
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=30)  # reaps it and closes its pipes
                assert proc.returncode == -signal.SIGKILL
                mid_push[where] += 1
                # The workspace opens cleanly after the crash; sent ⊆ server holds.
                with open_workspace(field_home, passphrase=PASSPHRASE) as ws:
                    on_server = set(assert_sent_held_once(server.url, token, ws))
                    sent = sent_marks(ws)
                # Two pushes are in flight, so which batch froze is the network's choice; a
                # whole batch of the run's records is caught in the window either way.
                if where == "reply":
                    # Held by the server, not marked by the client: the window that matters.
                    assert len((waiting & on_server) - sent) >= smallest
                else:
                    assert len(waiting - on_server) >= smallest
        assert sum(mid_push.values()) == runs, f"kills inside a push: {dict(mid_push)}"
        assert mid_push["request"] and mid_push["reply"]
        done = _fieldkit(field_home, "sync")
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err.decode()
        assert b"0 waiting" in out
        exchange.pull(coordinator)
        with open_workspace(field_home, passphrase=PASSPHRASE) as ws:
            assert_exactly_once(server.url, coordinator, [ws], captured)
            assert ws.audit.verify().ok  # the crash left the audit chain whole
    finally:
        server.stop()
