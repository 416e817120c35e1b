"""Benchmark: applying an erasure order for a case of N records, on a laptop and on the server,
against a plain DELETE of the same rows in the same run.

Laptop: a real SQLCipher workspace holding the case's N records among N × 9 records of other
cases; the time is ``Trust.accept`` of a signed erasure order (both signatures checked, the
case code unsealed, every record read to find the case's, the rows deleted with
``secure_delete``, the trace kept, the WAL truncated). The baseline is a plain
``DELETE FROM records WHERE id IN (…)`` of the same N rows in an identical workspace.

Server: a migrated server database (SQLite file, and PostgreSQL when it answers) holding the
N envelopes among N × 9 others; the time is checking the order's signatures and
``store_statement`` (envelopes, feed entries and assignments deleted, the order stored), in one
transaction, plus the WAL checkpoint on SQLite. The baseline is a plain DELETE of the same N
envelope rows. Prints one JSON line. Usage: ``python bench/erase.py [N]``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _kit import PASSPHRASE, load_average, postgres_problem, postgres_url
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldkit.capture import new_case_code
from fieldkit.crypto.hpke import wrap
from fieldkit.crypto.statements import sign_statement
from fieldkit.exchange._state import ProjectRoot
from fieldkit.exchange._trust import Trust, stamp
from fieldkit.exchange.case_orders import SEAL_INFO
from fieldkit.store import Workspace, create_workspace
from sync.protocol import ErasureBody, b64encode, project_id_of

FORM = {
    "type": "survey",
    "name": "data",
    "id_string": "intake",
    "version": "1",
    "title": "Intake",
    "children": [{"type": "text", "name": "client_pseudonym", "label": "Case"}],
}
OTHERS = 9
RUNS = 3


def _raw(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _laptop(home: Path, n: int) -> tuple[Workspace, str, list[str]]:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    ws.forms.add(FORM)
    code = new_case_code(ws)
    items, case_ids = [], []
    for i in range(n * (OTHERS + 1)):
        rid = str(uuid.uuid4())
        mine = i % (OTHERS + 1) == 0
        answers = {
            "/data/client_pseudonym": code if mine else f"OTHER-{i:06d}",
            "/data/story": f"account {i} " + "x" * 400,
        }
        items.append(
            {
                "record_id": rid,
                "form_id": "intake",
                "form_version": "1",
                "answers": answers,
                "device": "bench-device",
                "capture_day": "2026-12-01",
                "finalized_at": "2026-12-01T00:00:00.000Z",
            }
        )
        if mine:
            case_ids.append(rid)
    ws.records.import_many(items)
    return ws, code, case_ids


def _order(ws: Workspace, code: str, refs: list[tuple[str, str]]) -> tuple[Trust, Any]:
    """A trust root made on this laptop (it is the project's creator) and a signed order."""
    psk = Ed25519PrivateKey.generate()
    root = ProjectRoot(
        project_id=project_id_of(_raw(psk)),
        name="bench",
        signing_key=b64encode(_raw(psk)),
        creator=ws.device_id,
        creator_key=b64encode(ws.device.ed25519_public),
    )
    trust = Trust(ws, root, device_id=ws.device_id)
    order_id = str(uuid.uuid4())
    sealed = wrap(
        code.encode(), public_key=ws.device.x25519.public_key(), info=SEAL_INFO + order_id.encode()
    )
    body = ErasureBody.model_validate(
        {
            "order_id": order_id,
            "cases": [{"device_id": ws.device_id, "sealed": b64encode(sealed)}],
            "envelopes": [{"device_id": d, "record_id": r} for d, r in refs],
        }
    )
    statement = sign_statement(
        psk,
        issuer_key=ws.device.ed25519,
        kind="erasure",
        project_id=root.project_id,
        issuer=ws.device_id,
        issued_at=stamp(),
        body=body,
    )
    return trust, statement


def laptop_run(root: Path, n: int, run: int) -> tuple[float, float]:
    """(seconds to apply the order, seconds for a plain DELETE of the same rows)."""
    ws, code, ids = _laptop(root / f"order{run}", n)
    trust, statement = _order(ws, code, [("bench-device", i) for i in ids])
    start = time.perf_counter()
    with ws.transaction():
        verdict = trust.accept(statement)
        trust.flush()
    applied = time.perf_counter() - start
    assert verdict.accepted, verdict.reason
    assert not [r for r in ws.records.list() if r.answers.get("/data/client_pseudonym") == code]
    ws.close()

    plain_ws, _, plain_ids = _laptop(root / f"plain{run}", n)
    db = plain_ws._db  # noqa: SLF001 (the baseline goes around the API on purpose)
    start = time.perf_counter()
    with db.transaction():
        for i in range(0, len(plain_ids), 400):
            chunk = plain_ids[i : i + 400]
            db.execute(f"DELETE FROM records WHERE id IN ({', '.join('?' * len(chunk))})", chunk)  # noqa: S608
    plain = time.perf_counter() - start
    plain_ws.close()
    return applied, plain


def _server_tables(url: str | None, data_dir: Path) -> Any:
    from sync.server import ServerSettings
    from sync.server.db import make_engine, migrate

    settings = ServerSettings(data_dir=data_dir, database_url=url)
    engine = make_engine(settings)
    migrate(engine)
    return engine


def _fill(engine: Any, n: int) -> list[tuple[str, str]]:
    from sqlalchemy import insert

    from sync.server.schema import envelopes

    device = "bench-device"
    now = datetime.now(UTC)
    rows, case = [], []
    for i in range(n * (OTHERS + 1)):
        rid = str(uuid.uuid4())
        rows.append(
            {
                "device_id": device,
                "record_id": rid,
                "project_id": "p_bench",
                "body": os.urandom(1500),
                "body_sha256": os.urandom(32),
                "received_at": now,
            }
        )
        if i % (OTHERS + 1) == 0:
            case.append((device, rid))
    with engine.begin() as conn:
        conn.execute(insert(envelopes), rows)
    return case


def server_run(url: str | None, data_dir: Path, n: int) -> tuple[float, float]:
    """(seconds to check and apply the order, seconds for a plain DELETE of the same rows)."""
    from sqlalchemy import delete, tuple_

    from sync.server.case_orders import truncate_wal
    from sync.server.schema import envelopes
    from sync.server.statements import check_signatures, store_statement

    data_dir.mkdir(parents=True, exist_ok=True)
    engine = _server_tables(url, data_dir)
    try:
        refs = _fill(engine, n)
        psk, issuer = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        body = ErasureBody.model_validate(
            {
                "order_id": str(uuid.uuid4()),
                "cases": [],
                "envelopes": [{"device_id": d, "record_id": r} for d, r in refs],
            }
        )
        statement = sign_statement(
            psk,
            issuer_key=issuer,
            kind="erasure",
            project_id="p_bench",
            issuer="coordinator",
            issued_at=stamp(),
            body=body,
        )
        from sqlalchemy import insert

        from sync.server.schema import counters

        with engine.begin() as conn:
            if conn.execute(counters.select()).first() is None:
                conn.execute(insert(counters).values(name="change", value=0))
        start = time.perf_counter()
        with engine.begin() as conn:
            checked = check_signatures(
                statement, signing_key=b64encode(_raw(psk)), issuer_key=b64encode(_raw(issuer))
            )
            store_statement(conn, project_id="p_bench", statement=statement, body=checked)
        if engine.dialect.name == "sqlite":
            truncate_wal(engine)
        applied = time.perf_counter() - start

        plain_refs = _fill(engine, n)
        start = time.perf_counter()
        with engine.begin() as conn:
            for i in range(0, len(plain_refs), 1000):
                chunk = plain_refs[i : i + 1000]
                conn.execute(
                    delete(envelopes).where(
                        tuple_(envelopes.c.device_id, envelopes.c.record_id).in_(chunk)
                    )
                )
        plain = time.perf_counter() - start
        return applied, plain
    finally:
        engine.dispose()


def _summary(pairs: list[tuple[float, float]]) -> dict[str, float]:
    applied = statistics.median(a for a, _ in pairs)
    plain = statistics.median(p for _, p in pairs)
    return {
        "apply_ms": round(applied * 1000, 1),
        "plain_delete_ms": round(plain * 1000, 1),
        "ratio": round(applied / plain, 2),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        laptop = _summary([laptop_run(root, n, run) for run in range(RUNS)])
        sqlite = _summary([server_run(None, root / f"server{run}", n) for run in range(RUNS)])
        result: dict[str, Any] = {
            "bench": "erase",
            "case_records": n,
            "other_records": n * OTHERS,
            "laptop": laptop,
            "server_sqlite": sqlite,
            "load_average": round(load_average(), 2),
        }
        problem = postgres_problem()
        if problem is None:
            pairs = []
            for run in range(RUNS):
                with postgres_url() as url:
                    pairs.append(server_run(url, root / f"pg{run}", n))
            result["server_postgres"] = _summary(pairs)
        else:
            result["server_postgres"] = problem
    print(json.dumps(result))


if __name__ == "__main__":
    main()
