"""Benchmark: bulk record saves through the workspace API vs raw sqlcipher3, and unlock time.

Saves N records of ~2 KB of answers through ``ws.records.import_many`` (the bulk import path:
one transaction, audit entries included) and the same rows through raw sqlcipher3
``executemany`` in one transaction on an identically keyed and configured database (WAL,
synchronous=FULL, same table), both starting from the same answer dicts (the raw side
JSON-encodes them and inserts; the API also validates, audits and checks for duplicates). Also times
``import_received`` once per record inside ``batch()`` (reported, not in the ratio), the
per-answer durable save capture uses, and ``open_workspace`` (Argon2id 64 MiB, t=3).
Prints one JSON line. Usage: ``python bench/store.py [N]``.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlcipher3

from fieldkit.crypto import keys
from fieldkit.store import create_workspace, open_workspace

PASSPHRASE = "bench-amber-kettle-orbit"
FORM = {"type": "survey", "name": "data", "id_string": "bench", "version": "1", "children": []}


def _answers(i: int) -> dict[str, str]:
    # 20 answers of ~100 characters: ~2 KB of JSON per record.
    return {f"/data/q{j:02d}": f"{i:08d}-{j:02d}-" + "x" * 86 for j in range(20)}


def _api(home: Path, rows: list[dict[str, str]]) -> tuple[float, float, float]:
    """Seconds for N records through ``import_many``; per-call rate; one capture save."""
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(FORM)
        items = [
            {
                "record_id": str(uuid.uuid4()),
                "form_id": "bench",
                "form_version": "1",
                "answers": answers,
                "device": "bench-device",
                "capture_day": "2024-01-01",
                "finalized_at": f"2024-01-01T00:00:{i % 60:02d}.000Z",
            }
            for i, answers in enumerate(rows)
        ]
        start = time.perf_counter()
        assert ws.records.import_many(items) == len(rows)
        bulk = time.perf_counter() - start
        # The same rows again, one import_received call each inside one batch().
        calls = rows[: max(1, len(rows) // 4)]
        start = time.perf_counter()
        with ws.records.batch():
            for answers in calls:
                ws.records.import_received(
                    record_id=str(uuid.uuid4()),
                    form_id="bench",
                    form_version="1",
                    answers=answers,
                    device="bench-device",
                    capture_day="2024-01-01",
                    finalized_at="2024-01-01T00:00:00.000Z",
                )
        per_call_rate = len(calls) / (time.perf_counter() - start)
        draft = ws.records.create_draft(form_id="bench", form_version="1")
        saves = 200
        start = time.perf_counter()
        for i in range(saves):
            ws.records.save_answers(draft.id, rows[i % len(rows)])
        per_save = (time.perf_counter() - start) / saves
        assert ws.audit.verify().ok
    return bulk, per_call_rate, per_save


def _raw(path: Path, rows: list[dict[str, str]]) -> float:
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{keys.sqlcipher_key(secrets.token_bytes(32)).hex()}'\"")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA secure_delete = ON")
    # The same table the workspace uses (first migration).
    for statement in _records_table().split(";"):
        if statement.strip():
            conn.execute(statement)
    ids = [str(uuid.uuid4()) for _ in rows]
    start = time.perf_counter()
    # The least a hand-written importer does: encode each record's answers and insert the row.
    prepared = [
        (
            record_id,
            "bench",
            "1",
            "finalized",
            None,
            None,
            "2024-01-01T00:00:00.000Z",
            "2024-01-01T00:00:00.000Z",
            "2024-01-01T00:00:00.000Z",
            json.dumps(answers),
            "received",
            "bench-device",
            "2024-01-01",
            None,
        )
        for record_id, answers in zip(ids, rows, strict=True)
    ]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", prepared
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _records_table() -> str:
    return """
        CREATE TABLE records (
            id TEXT PRIMARY KEY, form_id TEXT NOT NULL, form_version TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('draft', 'finalized', 'sent')),
            replaces TEXT, case_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            finalized_at TEXT, answers TEXT NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('local', 'received')),
            device TEXT NOT NULL, capture_day TEXT NOT NULL, hlc TEXT
        );
        CREATE INDEX records_by_form ON records (form_id, created_at);
        CREATE INDEX records_by_status ON records (status, created_at)
    """


def _unlock(home: Path, runs: int = 5) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``open_workspace`` (CPU time is what load on a shared machine
    cannot inflate)."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        open_workspace(home, passphrase=PASSPHRASE).close()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    """Run the benchmark and print one JSON line."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rows = [_answers(i) for i in range(n)]
    raw_rates, api_rates, call_rates, saves = [], [], [], []
    # Alternate the two, three times each, and keep medians: these machines are shared.
    for round_ in range(3):
        with tempfile.TemporaryDirectory() as folder:
            base = Path(folder)
            raw_rates.append(n / _raw(base / "raw.db", rows))
            bulk_seconds, call_rate, per_save = _api(base / "home", rows)
            api_rates.append(n / bulk_seconds)
            call_rates.append(call_rate)
            saves.append(per_save)
            if round_ == 0:
                unlock, unlock_cpu = _unlock(base / "home")
    api_rate, raw_rate = statistics.median(api_rates), statistics.median(raw_rates)
    per_save = statistics.median(saves)
    print(
        json.dumps(
            {
                "bench": "store",
                "records": n,
                "answer_bytes_per_record": len(json.dumps(rows[0])),
                "api_records_per_s": round(api_rate, 1),
                "raw_records_per_s": round(raw_rate, 1),
                "ratio": round(api_rate / raw_rate, 3),
                "api_runs": [round(r) for r in api_rates],
                "api_per_call_records_per_s": round(statistics.median(call_rates), 1),
                "raw_runs": [round(r) for r in raw_rates],
                "capture_save_ms": round(per_save * 1000, 2),
                "unlock_median_s": round(statistics.median(unlock), 3),
                "unlock_runs_s": [round(t, 3) for t in unlock],
                "unlock_cpu_median_s": round(statistics.median(unlock_cpu), 3),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "targets": {"ratio": ">= 0.5", "unlock_median_s": "<= 0.5"},
            }
        )
    )


if __name__ == "__main__":
    main()
