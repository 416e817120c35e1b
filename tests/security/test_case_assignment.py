"""Assigning a case (DESIGN §5): its records become readable by the assigned field device and
by no other — not another field device, not the server (played breached) — a transfer takes
them from the first device, and a revoked device is delivered nothing and honours its
revocation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _client_kit import field_device
from sqlalchemy import select
from test_case_erasure import MARKER, _record, _setup

from fieldkit import exchange
from fieldkit.capture import new_case_code
from fieldkit.crypto.hpke import unwrap
from fieldkit.errors import AuthError, CryptoError, UsageError
from fieldkit.exchange import case_orders
from fieldkit.exchange._trust import Trust
from fieldkit.store import Workspace
from sync import protocol as p
from sync.server.feed import append_changes
from sync.server.schema import envelopes, statements


def _received(ws: Workspace) -> dict[str, dict[str, str]]:
    return {r.id: r.answers for r in ws.records.list() if r.origin == "received"}


def _device(ws: Workspace) -> str:
    return str(ws.state.get("sync.device_id"))


def test_only_the_assigned_device_reads_the_case(tmp_path: Path, breached: Any) -> None:
    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    worker = field_device(tmp_path, breached.url, coordinator, name="worker")
    other = field_device(tmp_path, breached.url, coordinator, name="other")
    code = new_case_code(field)
    ids = {_record(field, code, f"{MARKER} {i}") for i in range(2)}
    _record(field, new_case_code(field), "another person")
    exchange.sync(field)
    exchange.pull(coordinator)
    with pytest.raises(UsageError, match="coordinator"):
        case_orders.assign_case(coordinator, code, coordinator.device_id)

    order = case_orders.assign_case(coordinator, code, _device(worker))
    assert order.envelopes == 2
    assert exchange.sync(worker).pulled.assigned == 2
    got = _received(worker)
    assert set(got) == ids and all(MARKER in a["/data/story"] for a in got.values())
    # Another field device is delivered nothing, and cannot open the data keys it can see in
    # the signed order.
    exchange.sync(other)
    assert _received(other) == {}
    engine = breached.engine()
    with engine.connect() as conn:
        body = conn.execute(
            select(statements.c.body).where(statements.c.kind == "assignment")
        ).scalar_one()
    grants = json.loads(body)["body"]["grants"]
    for grant in grants:
        for key in (other.device.x25519, field.device.x25519):
            with pytest.raises(CryptoError):
                unwrap(
                    p.b64decode(grant["wrapped_key"]),
                    private_key=key,
                    info=case_orders.GRANT_INFO + grant["record_id"].encode(),
                )
    # The breached server addresses the assigned envelopes to the other device: refused.
    project_id = str(other.state.get("sync.project_id"))
    with engine.begin() as conn:
        append_changes(
            conn,
            [
                (project_id, "assigned", f"{g['device_id']}/{g['record_id']}", _device(other))
                for g in grants
            ],
        )
        # (the server serves an assigned envelope only to its assignee: make it the other's)
        from sync.server.schema import case_assignments

        conn.execute(case_assignments.update().values(assignee=_device(other)))
    pulled = exchange.sync(other).pulled
    assert pulled.assigned == 0
    assert pulled.items_refused["a record not assigned to this device"] == 2
    assert _received(other) == {}
    # The server itself holds only ciphertext: no marker in any envelope it keeps.
    with engine.connect() as conn:
        for row in conn.execute(select(envelopes.c.body)):
            assert MARKER.encode() not in bytes(row.body)


def test_a_transfer_moves_the_case_and_a_revoked_device_loses_it(
    tmp_path: Path, breached: Any
) -> None:
    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    first = field_device(tmp_path, breached.url, coordinator, name="first")
    second = field_device(tmp_path, breached.url, coordinator, name="second")
    code = new_case_code(field)
    ids = {_record(field, code, MARKER) for _ in range(3)}
    exchange.sync(field)
    exchange.pull(coordinator)
    case_orders.assign_case(coordinator, code, _device(first))
    exchange.sync(first)
    assert set(_received(first)) == ids

    case_orders.assign_case(coordinator, code, _device(second))
    exchange.sync(first)
    assert _received(first) == {}  # the transfer took the case from the first device
    assert exchange.sync(second).pulled.assigned == 3
    assert set(_received(second)) == ids

    exchange.revoke_device(coordinator, _device(second))
    with pytest.raises(AuthError):
        exchange.sync(second)  # the server stops delivering
    # The revocation reaches the laptop (a bundle, or a sync before the token stopped): it
    # deletes what was assigned to it and takes no assigned record any more.
    engine = breached.engine()
    with engine.connect() as conn:
        revocation = conn.execute(
            select(statements.c.body).where(statements.c.kind == "revocation")
        ).scalar_one()
    info = exchange.enrolment(second)
    trust = Trust(second, info.root, device_id=info.device_id)  # type: ignore[arg-type]
    with second.transaction():
        verdict = trust.accept(p.Statement.model_validate(json.loads(revocation)))
        trust.flush()
    assert verdict.accepted
    assert _received(second) == {}
    assert set(_received(first)) == set()
    # Its own records stay: only what was assigned to it goes.
    assert {r.id for r in field.records.list()} >= ids


def test_assign_from_the_command_line(tmp_path: Path, breached: Any) -> None:
    from typer.testing import CliRunner

    from fieldkit.cli import app

    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    worker = field_device(tmp_path, breached.url, coordinator, name="worker")
    code = new_case_code(field)
    _record(field, code, MARKER)
    exchange.sync(field)
    exchange.pull(coordinator)
    coordinator.close()
    env = {"FIELDKIT_PASSPHRASE": "violet tractor humming 27 lanterns"}
    home = ["--home", str(tmp_path / "coordinator")]
    runner = CliRunner()
    done = runner.invoke(
        app, [*home, "cases", "assign", code, "--device", _device(worker), "--json"], env=env
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)[0]["envelopes"] == 1
    bad = runner.invoke(app, [*home, "cases", "assign", "not-a-code", "--device", "x"], env=env)
    assert bad.exit_code != 0 and "case code" in bad.output and "Traceback" not in bad.output
    refused = runner.invoke(app, [*home, "cases", "erase", code], env=env, input="n\n")
    assert refused.exit_code != 0 and "nothing was erased" in refused.output
    erased = runner.invoke(app, [*home, "cases", "erase", code, "--yes"], env=env)
    assert erased.exit_code == 0, erased.output
    assert code not in erased.output and "1 record(s) deleted" in erased.output
    scoped = runner.invoke(app, [*home, "cases", "withdraw", code, "--scope", "nonsense"], env=env)
    assert scoped.exit_code != 0 and "--scope" in scoped.output


def test_an_assigned_device_sees_the_cases_history_and_adds_to_it(
    tmp_path: Path, breached: Any
) -> None:
    from fieldkit.cases import case_state, close_case, reopen_case

    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    worker = field_device(tmp_path, breached.url, coordinator, name="worker")
    code = new_case_code(field)
    _record(field, code, "first visit")
    close_case(field, code)
    exchange.sync(field)
    exchange.pull(coordinator)
    order = case_orders.assign_case(coordinator, code, _device(worker))
    assert order.envelopes == 2  # the record and the case event
    exchange.sync(worker)
    assert case_state(worker, code).closed
    # The worker's own change reaches the coordinator.
    reopen_case(worker, code)
    exchange.sync(worker)
    exchange.pull(coordinator)
    assert not case_state(coordinator, code).closed
