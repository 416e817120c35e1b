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

import random
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
from _server_kit import Device, Project, create_project, enroll, push, seal
from conftest import RunningServer
from sqlalchemy import Connection, insert, select, text

from sync.server import ServerSettings
from sync.server import records as records_module
from sync.server.db import make_engine, migrate
from sync.server.feed import append_changes
from sync.server.schema import changes

pytestmark = pytest.mark.postgres

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


def _scenario(
    server: RunningServer, *, pushers: int, batches: int, batch: int
) -> tuple[set[str], set[str]]:
    """Concurrent slow pushers and one polling coordinator; returns (reader saw, all stored)."""
    url, tok = server.url, server.admin_token
    project: Project = create_project(url, tok)
    devices: list[Device] = [enroll(url, tok, project) for _ in range(pushers)]
    seen: set[str] = set()
    done = threading.Event()
    errors: list[BaseException] = []

    def pusher(dev: Device) -> None:
        try:
            for _ in range(batches):
                envs = [seal(dev, project, {"/data/q": "x"}) for _ in range(batch)]
                r = push(url, dev, envs)
                assert r.status_code == 200, r.text
                assert {x["status"] for x in r.json()["results"]} == {"created"}
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def reader() -> None:
        cursor = "0"
        session = requests.Session()
        auth = project.coordinator.auth
        while True:
            finished = done.is_set()
            r = session.get(
                url + "/v1/pull", params={"cursor": cursor, "limit": 37}, headers=auth, timeout=30
            )
            body = r.json()
            for c in body["changes"]:
                if c["type"] == "envelope":
                    seen.add(c["envelope"]["header"]["record_id"])
            cursor = body["next_cursor"]
            if finished and not body["has_more"]:
                return

    threads = [threading.Thread(target=pusher, args=(d,)) for d in devices]
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
                    changes.c.kind == "envelope", changes.c.project_id == project.project_id
                )
            ).scalars()
        )
    assert len(stored) == pushers * batches * batch
    return seen, stored


def _slow(allocate: Callable[[Connection, Changes], None]) -> Callable[[Connection, Changes], None]:
    def slow_allocate(conn: Connection, items: Changes) -> None:
        allocate(conn, items)
        # Deliberately slow between taking numbers and COMMIT: the window the hazard needs.
        time.sleep(random.uniform(0, 0.03))

    return slow_allocate


@pytest.mark.slow
def test_concurrent_pushers_reader_never_skips(
    pg_sync_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_module, "append_changes", _slow(append_changes))
    seen, stored = _scenario(pg_sync_server, pushers=8, batches=12, batch=10)
    assert seen == stored
