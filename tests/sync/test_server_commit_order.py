"""The pull cursor follows COMMIT order on PostgreSQL: a reader never skips a row.

The hazard (DESIGN §6): with numbers from a sequence (or an identity column), transaction A
takes number 5, transaction B takes 6 and commits first; a reader sees 6 and moves its cursor
to 6; A commits 5 afterwards and the reader never asks for it again. The server hands numbers
out under the row lock of one counter row as the last step of each transaction
(sync/server/feed.py), so B cannot take a number until A has committed.

These tests run the naive variant too and check that it DOES skip rows, so they would catch a
regression to a sequence-based design.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
from _client_kit import capture, field_device, project
from conftest import RunningServer
from sqlalchemy import Connection, insert, select, text

from fieldkit import exchange
from fieldkit.store import Workspace
from sync.server import ServerSettings
from sync.server import records as records_module
from sync.server.db import make_engine, migrate
from sync.server.feed import append_changes
from sync.server.schema import changes

pytestmark = [pytest.mark.postgres, pytest.mark.safety]

Changes = Sequence[tuple[str, str, str, str | None]]


def _naive_append(conn: Connection, items: Changes) -> None:
    """The design this server must not have: numbers from a sequence, taken at insert."""
    for project_id, kind, ref, audience in items:
        number = conn.execute(text("SELECT nextval('naive_change_seq')")).scalar_one()
        conn.execute(
            insert(changes).values(
                change_no=number, project_id=project_id, kind=kind, ref=ref, audience=audience
            )
        )


def _reader_sees(engine: Any, cursor: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(changes.c.change_no)
                .where(changes.c.change_no > cursor)
                .order_by(changes.c.change_no)
            ).scalars()
        )


def test_naive_sequence_skips_a_row_and_the_counter_does_not(tmp_path: Path, pg_url: str) -> None:
    """Deterministic interleaving: A allocates, B allocates and commits, reader, A commits."""
    engine = make_engine(ServerSettings(data_dir=tmp_path, database_url=pg_url))
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE SEQUENCE naive_change_seq"))

    def run(allocate: Callable[[Connection, Changes], None]) -> tuple[list[int], bool]:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM changes"))
        a = engine.connect()
        a_tx = a.begin()
        allocate(a, [("p", "envelope", "a", None)])
        b_done = threading.Event()

        def b() -> None:
            with engine.begin() as conn:
                allocate(conn, [("p", "envelope", "b", None)])
            b_done.set()

        thread = threading.Thread(target=b)
        thread.start()
        b_blocked = not b_done.wait(0.5)
        seen = _reader_sees(engine, 0)  # the reader polls while A is still open
        cursor = max(seen, default=0)
        a_tx.commit()
        a.close()
        thread.join(10)
        seen += _reader_sees(engine, cursor)
        seen += _reader_sees(engine, max(seen, default=0))
        return seen, b_blocked

    seen, b_blocked = run(_naive_append)
    assert not b_blocked
    with engine.connect() as conn:
        stored = set(conn.execute(select(changes.c.change_no)).scalars())
    assert len(stored) == 2 and set(seen) != stored, "the naive design skipped nothing?"

    seen, b_blocked = run(append_changes)
    with engine.connect() as conn:
        stored = set(conn.execute(select(changes.c.change_no)).scalars())
    assert b_blocked, "B took a number while A, holding a smaller one, was uncommitted"
    assert len(stored) == 2 and set(seen) == stored
    engine.dispose()


HOLD_SECONDS = 0.08


Allocate = Callable[[Connection, Changes], None]


def _forcing(allocate: Allocate) -> Allocate:
    """Every other push transaction waits between taking its numbers and COMMIT.

    The hazard needs a transaction that took a number and has not committed while a later one
    takes the next number and commits, and a reader polling in between. Random short sleeps
    made that happen about once in 15 runs; here every second transaction holds its numbers
    for HOLD_SECONDS while the others commit at once, and eight pushers keep the server busy,
    so with numbers from a sequence a quick transaction overtakes a slow one dozens of times
    per run. With the counter row lock the quick one waits instead.
    """
    turn = itertools.count()
    lock = threading.Lock()

    def forced(conn: Connection, items: Changes) -> None:
        allocate(conn, items)
        with lock:
            slow = next(turn) % 2 == 0
        if slow:
            time.sleep(HOLD_SECONDS)

    return forced


def _scenario(
    server: RunningServer, root: Path, *, pushers: int, batches: int, batch: int
) -> tuple[set[str], set[str]]:
    """Concurrent pushers (fieldkit's own sync) and one polling coordinator.

    Returns (the record ids the reader saw, every record id the server stored).
    """
    coordinator, first = project(root, server.url, server.admin_token)
    fields = [first] + [
        field_device(root, server.url, coordinator, name=f"field{n}")
        for n in range(1, pushers)
    ]
    project_id = coordinator.state.get("sync.project_id")
    auth = {"Authorization": f"Bearer {coordinator.state.get('sync.token')}"}
    seen: set[str] = set()
    done = threading.Event()
    errors: list[BaseException] = []

    def pusher(ws: Workspace) -> None:
        try:
            for _ in range(batches):
                ids = capture(ws, batch)
                summary = exchange.sync(ws, server=server.url)
                assert summary.waiting == 0 and summary.sent == len(ids)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def reader() -> None:
        cursor = "0"
        session = requests.Session()
        while True:
            finished = done.is_set()
            r = session.get(
                server.url + "/v1/pull",
                params={"cursor": cursor, "limit": 37},
                headers=auth,
                timeout=30,
            )
            body = r.json()
            for c in body["changes"]:
                if c["type"] == "envelope":
                    seen.add(c["envelope"]["header"]["record_id"])
            cursor = body["next_cursor"]
            if finished and not body["has_more"]:
                return

    threads = [threading.Thread(target=pusher, args=(ws,)) for ws in fields]
    read = threading.Thread(target=reader)
    read.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    read.join(120)
    assert not errors, errors[0]
    with server.app.state.engine.connect() as conn:
        stored = set(
            conn.execute(
                select(changes.c.ref).where(
                    changes.c.kind == "envelope", changes.c.project_id == project_id
                )
            ).scalars()
        )
    assert len(stored) == pushers * batches * batch
    return seen, stored


@pytest.mark.slow
def test_concurrent_pushers_reader_never_skips(
    pg_server_factory: Callable[[str], RunningServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight devices push through fieldkit's client while a coordinator polls the feed.

    The same forced interleaving runs twice: on the server as it is (the reader must see every
    row), and on a second server whose push numbers come from a sequence (it must skip rows:
    that proves the interleaving really opens the window, on every run of this test).
    """
    shape = {"pushers": 8, "batches": 12, "batch": 10}
    monkeypatch.setattr(records_module, "append_changes", _forcing(append_changes))
    seen, stored = _scenario(pg_server_factory("real"), tmp_path / "real", **shape)
    assert seen == stored, f"the reader skipped {len(stored - seen)} of {len(stored)} rows"

    control = pg_server_factory("control")
    with control.app.state.engine.begin() as conn:
        # Far above the counter's numbers, so the two never collide in one table.
        conn.execute(text("CREATE SEQUENCE naive_change_seq START 1000000000"))
    monkeypatch.setattr(records_module, "append_changes", _forcing(_naive_append))
    seen, stored = _scenario(control, tmp_path / "control", **shape)
    assert seen < stored, "the forced interleaving no longer opens the window: nothing skipped"
