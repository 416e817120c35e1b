"""Faults with real processes on 127.0.0.1: connections cut at random bytes both ways, the
server killed mid-batch, the client killed mid-sync. Afterwards every record is on the server
exactly once, the coordinator holds each exactly once, and nothing is marked sent that the
server does not hold."""

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
from _proxy import CuttingProxy, random_plan
from conftest import start_server_process

from fieldkit import exchange
from fieldkit.errors import SyncError
from fieldkit.store import Workspace, open_workspace
from sync.client import Retry, Timeouts

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


@pytest.mark.slow
def test_connections_cut_at_random_bytes_both_ways(tmp_path: Path) -> None:
    _cut_runs(tmp_path, database_url=None, runs=200, seed=20261128)


@pytest.mark.slow
@pytest.mark.postgres
def test_connections_cut_at_random_bytes_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    _cut_runs(tmp_path, database_url=pg_url, runs=60, seed=4242)


def _cut_runs(tmp_path: Path, *, database_url: str | None, runs: int, seed: int) -> None:
    (tmp_path / "server").mkdir()  # its log lives there, also when the data is in PostgreSQL
    server = start_server_process(tmp_path / "server", database_url=database_url)
    try:
        coordinator, field = project(tmp_path, server.url, server.admin_token)
        captured: set[str] = set()
        failures = 0
        plan = random_plan(seed=seed, probability=0.6, max_up=2600, max_down=3000)
        with CuttingProxy(server.port, plan) as proxy:
            for run in range(runs):
                captured.update(capture(field, 2))
                try:
                    exchange.sync(
                        field,
                        server=proxy.url,
                        batch_size=1 + run % 3,
                        retry=FAST_RETRY,
                        timeouts=TIMEOUTS,
                    )
                except SyncError:
                    failures += 1  # retries ran out on this run: the next run resends
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
                        failures += 1
                # The invariant holds after every run, not only at the end.
                if run % 50 == 49:
                    on_server = server_envelopes(server.url, coordinator.state.get("sync.token"))
                    sent = {r for r, s in status_of(field).items() if s == "sent"}
                    assert sent <= set(on_server)
            assert proxy.cuts > runs // 2, "the proxy must actually have cut connections"
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


@pytest.mark.slow
def test_client_killed_mid_sync(tmp_path: Path) -> None:
    server = start_server_process(tmp_path / "server")
    try:
        coordinator, field = project(tmp_path, server.url, server.admin_token)
        field_home = tmp_path / "field"
        field.close()
        captured: set[str] = set()
        rng = random.Random(11)
        killed = 0
        token = coordinator.state.get("sync.token")
        for _ in range(4):
            with open_workspace(field_home, passphrase=PASSPHRASE) as ws:
                captured.update(capture(ws, 600))  # fresh work (3 batches) for every run
            before = sum(server_envelopes(server.url, token).values())
            proc = _fieldkit(field_home, "sync")
            # Wait until this run's first batch reaches the server, then kill -9 at a random
            # moment: inside a later batch, between a reply and marking it sent, or in the pull.
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                if sum(server_envelopes(server.url, token).values()) > before:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.1))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.communicate(timeout=30)  # reaps it and closes its pipes
            # The workspace opens cleanly after the crash; sent ⊆ server holds.
            with open_workspace(field_home, passphrase=PASSPHRASE) as ws:
                sent = {r for r, s in status_of(ws).items() if s == "sent"}
            assert sent <= set(server_envelopes(server.url, token))
        assert killed >= 2, f"the client died mid-sync only {killed} times of 4"
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
