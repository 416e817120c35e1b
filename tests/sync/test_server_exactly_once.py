"""Exactly once: concurrent identical pushes and retries store each record once."""

from __future__ import annotations

import threading

import requests
from _server_kit import create_project, enroll, pull_all, push, seal
from conftest import RunningServer
from sqlalchemy import func, select

from sync.server.schema import changes, envelopes


def test_concurrent_identical_pushes(any_sync_server: RunningServer) -> None:
    url, tok = any_sync_server.url, any_sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    batch = [seal(field, project, {"/data/q": str(i)}) for i in range(60)]
    body = {"envelopes": [e.model_dump(mode="json") for e in batch]}
    statuses: list[list[str]] = []
    barrier = threading.Barrier(8)

    def pusher() -> None:
        barrier.wait()
        # Halves overlap in a different order per thread: lock ordering must hold.
        r = requests.post(url + "/v1/push", json=body, headers=field.auth, timeout=60)
        assert r.status_code == 200, r.text
        statuses.append([x["status"] for x in r.json()["results"]])

    threads = [threading.Thread(target=pusher) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(statuses) == 8
    for i in range(len(batch)):
        column = [s[i] for s in statuses]
        assert column.count("created") == 1 and column.count("duplicate") == 7
    engine = any_sync_server.app.state.engine
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(envelopes)).scalar_one() == 60
        assert (
            conn.execute(
                select(func.count()).select_from(changes).where(changes.c.kind == "envelope")
            ).scalar_one()
            == 60
        )
    got = [c for c in pull_all(url, project.coordinator) if c["type"] == "envelope"]
    assert len(got) == 60


def test_overlapping_batches_in_other_orders(any_sync_server: RunningServer) -> None:
    url, tok = any_sync_server.url, any_sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    batch = [seal(field, project, {"/data/q": str(i)}) for i in range(80)]
    orders = [batch, batch[::-1], batch[40:] + batch[:40], batch[20:60]]
    barrier = threading.Barrier(len(orders))
    created: list[str] = []
    lock = threading.Lock()

    def pusher(envs: list) -> None:  # type: ignore[type-arg]
        barrier.wait()
        r = push(url, field, envs)
        assert r.status_code == 200, r.text
        with lock:
            created.extend(x["record_id"] for x in r.json()["results"] if x["status"] == "created")

    threads = [threading.Thread(target=pusher, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(created) == sorted(e.header.record_id for e in batch)


def test_verification_in_worker_processes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from _server_kit import Device
    from conftest import start_server_thread

    server = start_server_thread(tmp_path / "srv", verify_processes=2)
    try:
        url, tok = server.url, server.admin_token
        project = create_project(url, tok)
        field = enroll(url, tok, project)
        impostor = Device(device_id=field.device_id, project_id=field.project_id)
        forged_at = {3, 150, 151, 299}
        batch = [
            seal(impostor if i in forged_at else field, project, {"/data/q": str(i)})
            for i in range(300)
        ]
        results = push(url, field, batch).json()["results"]
        rejected = {i for i, r in enumerate(results) if r["status"] == "rejected"}
        assert rejected == forged_at
        assert all(results[i]["status"] == "created" for i in range(300) if i not in forged_at)
        assert "signature" in results[3]["reason"]
    finally:
        server.stop()


def test_verifier_falls_back_when_its_workers_die() -> None:
    import os
    import signal

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sync.server.verify import Verifier

    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    items = [(key.sign(b"m%d" % i), b"m%d" % i) for i in range(200)]
    items[7] = (items[7][0], b"tampered")
    verifier = Verifier(2)
    try:
        first = verifier.verify(raw, items)
        assert first == [i != 7 for i in range(200)]
        pool = verifier._pool
        assert pool is not None
        for pid in list(pool._processes):  # the workers this test started
            os.kill(pid, signal.SIGKILL)
        assert verifier.verify(raw, items) == first  # no exception: verified in-process
        assert verifier.processes == 0
    finally:
        verifier.close()
