"""More than one host: `fieldkit server run` processes on one PostgreSQL database (issue 14).

Two hosts give the same guarantees as one: every record stored exactly once, a pull cursor
that never skips (clients alternate between the hosts while others push), a revocation made on
one host refused on the other at once, and a host killed with SIGKILL in the middle of a push
loses and duplicates nothing once the client carries on through the other host.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _client_kit import capture, field_workspace, project, revoke, status_of
from _hosts import Balancer, Host, feed_counts

from fieldkit import exchange
from fieldkit.errors import AuthError
from fieldkit.store import Workspace
from sync.client import Retry, Timeouts
from sync.server import ServerSettings, init_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FAST_RETRY = Retry(attempts=8, base=0.05, cap=0.5)
TIMEOUTS = Timeouts(connect=2, read=20)


@pytest.fixture
def hosts(tmp_path: Path, pg_url: str) -> Iterator[tuple[Host, Host, str]]:
    """Two hosts started at the same moment on one fresh database (nothing migrated yet): the
    migrations run once, the other host waits for them. Yields (a, b, admin token)."""
    a = Host(tmp_path / "host-a", pg_url)
    b = Host(tmp_path / "host-b", pg_url)
    try:
        a.start(wait=False)
        b.start(wait=False)
        a.wait_healthy()
        b.wait_healthy()
        token = init_server(ServerSettings(data_dir=tmp_path / "host-a", database_url=pg_url))
        yield a, b, token
    finally:
        a.stop()
        b.stop()


def _received(ws: Workspace) -> list[str]:
    return [r.id for r in ws.records.list() if r.origin == "received"]


def test_clients_alternating_between_two_hosts(
    tmp_path: Path, hosts: tuple[Host, Host, str]
) -> None:
    a, b, token = hosts
    urls = [a.url, b.url]
    coordinator, first = project(tmp_path, a.url, token)
    fields = [first] + [field_workspace(tmp_path, f"field{i}", b.url, coordinator) for i in (2, 3)]
    captured: set[str] = set()
    errors: list[BaseException] = []

    def field_loop(ws: Workspace, offset: int) -> None:
        try:
            for round_no in range(6):
                captured.update(capture(ws, 40, marker=f"r{round_no}-"))
                summary = exchange.sync(
                    ws, server=urls[(round_no + offset) % 2], batch_size=25, retry=FAST_RETRY
                )
                assert not summary.rejected and not summary.conflicts
        except BaseException as exc:  # reported below, from the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=field_loop, args=(ws, i)) for i, ws in enumerate(fields)]
    for thread in threads:
        thread.start()
    # Meanwhile the coordinator pulls again and again, from each host in turn: a cursor that
    # skipped a row committed late on the other host would never bring that record.
    pulls = 0
    while any(t.is_alive() for t in threads):
        exchange.pull(coordinator, server=urls[pulls % 2], limit=50)
        pulls += 1
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    exchange.pull(coordinator, server=urls[pulls % 2])
    assert pulls >= 3
    received = _received(coordinator)
    assert len(received) == len(set(received)) == len(captured) == 3 * 6 * 40
    assert set(received) == captured
    counts = feed_counts(b.url, coordinator.state.get("sync.token"))
    assert set(counts) == captured and set(counts.values()) == {1}
    for ws in fields:
        assert set(status_of(ws).values()) == {"sent"}


def test_revocation_on_one_host_is_refused_on_the_other_at_once(
    tmp_path: Path, hosts: tuple[Host, Host, str]
) -> None:
    a, b, token = hosts
    _coordinator, field = project(tmp_path, a.url, token)
    capture(field, 3)
    exchange.sync(field, server=b.url)
    revoke(a.url, token, field.state.get("sync.device_id"))
    capture(field, 1)
    with pytest.raises(AuthError, match="revoked"):
        exchange.sync(field, server=b.url)
    with pytest.raises(AuthError, match="revoked"):
        exchange.sync(field, server=a.url)


def test_kill_9_of_one_host_mid_push_loses_and_duplicates_nothing(
    tmp_path: Path, hosts: tuple[Host, Host, str]
) -> None:
    a, b, token = hosts
    coordinator, field = project(tmp_path, a.url, token)
    captured: set[str] = set()
    outcomes: list[str] = []
    # Kill host A this long after it has received a whole push body: while it verifies,
    # stores or commits, before its reply reaches the client.
    delays = [0.0, 0.005, 0.02, 0.05, 0.1]
    for delay in delays:
        victim = a if a.process is not None and a.process.poll() is None else None
        assert victim is not None
        killed = threading.Event()

        def on_push_sent(n: int, *, delay: float = delay, host: Host = victim) -> None:
            if n == 1 and not killed.is_set():
                killed.set()
                threading.Timer(delay, host.kill).start()

        captured.update(capture(field, 300, marker=f"k{delay}-"))
        with Balancer([victim.port, b.port], on_push_sent=on_push_sent) as lb:
            # One batch, so the first push carries every waiting record; the client retries
            # through the balancer, which now finds only host B alive.
            summary = exchange.sync(
                field, server=lb.url, batch_size=1000, retry=FAST_RETRY, timeouts=TIMEOUTS
            )
            assert killed.is_set() and a.process is not None and a.process.poll() is not None
            outcomes.append("replied" if lb.replied.get(1) else "mid-push")
        on_server = feed_counts(b.url, coordinator.state.get("sync.token"))
        assert set(on_server) == captured and set(on_server.values()) == {1}
        assert summary.waiting == 0 and set(status_of(field).values()) == {"sent"}
        a.start()  # back for the next round, on the same database
    # The kills must land inside the push for this test to mean anything.
    assert outcomes.count("mid-push") >= len(delays) - 1, outcomes
    exchange.pull(coordinator, server=b.url)
    received = _received(coordinator)
    assert len(received) == len(set(received)) == len(captured)
    assert set(received) == captured
