"""Export benchmark (issue 6): linked tables from 100,000 records, written as CSV and Parquet.

The form has 30 questions (text, integer, decimal, select_one, select_multiple, date) and a
repeat group of 3 questions with 3 instances per record. Records are real
``fieldkit.store.Record`` objects built in memory: the encrypted store's read is NOT part of
the figures (``source`` in the JSON says so); ``--store-sample N`` also times reading N
records back from a real SQLCipher workspace, reported separately.

Measured (median of ``--runs``):
- ``build_s``: ``build_tables`` (parse instance paths, latest versions, types, 0/1 columns);
- ``csv_s`` / ``parquet_s``: ``write_tables`` (CSV with formula neutralisation);
- baseline in the same run: pandas building the same two frames from plain row dicts that are
  already shaped (``pd.DataFrame(list_of_dicts)``) and writing them with ``to_csv`` /
  ``to_parquet``.

Targets: build + write Parquet ≤ 15 s; ratio to the baseline ≤ 2.
Prints one JSON line. Run: ``.venv/bin/python bench/export.py [--records N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

QUESTIONS = 30
REPEAT_INSTANCES = 3
SIGNS = ["debt", "papers", "threats", "isolation", "wages", "violence"]
FORM_ID = "bench_export"


def _form_markdown() -> str:
    rows = ["| survey |", "| | type | name | label |"]
    kinds = ["text", "integer", "decimal", "select_one yn", "select_multiple signs", "date"]
    for i in range(QUESTIONS):
        rows.append(f"| | {kinds[i % len(kinds)]} | q{i:02d} | Question {i} |")
    rows += [
        "| | begin_repeat | member | Member |",
        "| | integer | m_age | Age |",
        "| | select_one yn | m_school | In school |",
        "| | text | m_role | Role |",
        "| | end_repeat | member | |",
        "| choices |",
        "| | list_name | name | label |",
        "| | yn | yes | Yes |",
        "| | yn | no | No |",
        *[f"| | signs | {s} | {s.title()} |" for s in SIGNS],
        "| settings |",
        "| | form_id | version |",
        f"| | {FORM_ID} | 1 |",
    ]
    return "\n".join(rows) + "\n"


def _value(i: int, n: int) -> str:
    kind = i % 6
    if kind == 0:
        return f"text {n % 97} of {i}"
    if kind == 1:
        return str((n * 7 + i) % 90)
    if kind == 2:
        return f"{(n % 1000) / 8:.3f}"
    if kind == 3:
        return "yes" if (n + i) % 2 else "no"
    if kind == 4:
        return " ".join(s for j, s in enumerate(SIGNS) if (n >> j) & 1 == (i & 1))
    return f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}"


def _records(count: int) -> list[Any]:
    from fieldkit.store import Record

    out = []
    for n in range(count):
        answers = {f"/data/q{i:02d}": _value(i, n) for i in range(QUESTIONS)}
        for m in range(1, REPEAT_INSTANCES + 1):
            answers[f"/data/member[{m}]/m_age"] = str((n + m) % 80)
            answers[f"/data/member[{m}]/m_school"] = "yes" if (n + m) % 3 else "no"
            answers[f"/data/member[{m}]/m_role"] = f"role {m}"
        day = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}"
        out.append(
            Record(
                id=f"00000000-0000-4000-8000-{n:012d}",
                form_id=FORM_ID,
                form_version="1",
                status="finalized",
                replaces=None,
                case_id=None,
                created_at=f"{day}T10:00:00.000Z",
                updated_at=f"{day}T10:00:00.000Z",
                finalized_at=f"{day}T10:00:00.000Z",
                answers=answers,
                origin="received",
                device="dev-bench",
                capture_day=day,
                hlc=None,
            )
        )
    return out


def _plain_dicts(records: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The same rows as plain dicts keyed by final column name (the baseline's input)."""
    root, member = [], []
    for index, r in enumerate(records, 1):
        row: dict[str, Any] = {}
        for i in range(QUESTIONS):
            value = r.answers[f"/data/q{i:02d}"]
            row[f"q{i:02d}"] = value
            if i % 6 == 4:
                chosen = set(value.split())
                for s in SIGNS:
                    row[f"q{i:02d}/{s}"] = 1 if s in chosen else 0
        row.update(
            {"_id": r.id, "_form_version": r.form_version, "_device": r.device,
             "_capture_day": r.capture_day, "_finalized_at": r.finalized_at,
             "_replaces": r.replaces, "_status": r.status, "_case_id": r.case_id,
             "_index": index}
        )  # fmt: skip
        root.append(row)
        for m in range(1, REPEAT_INSTANCES + 1):
            member.append(
                {"m_age": r.answers[f"/data/member[{m}]/m_age"],
                 "m_school": r.answers[f"/data/member[{m}]/m_school"],
                 "m_role": r.answers[f"/data/member[{m}]/m_role"],
                 "_index": len(member) + 1, "_parent_index": index,
                 "_parent_table": FORM_ID, "_record_id": r.id}
            )  # fmt: skip
    return root, member


def _store_read(form_definition: dict[str, Any], records: list[Any], folder: Path) -> float:
    """Seconds to read ``records`` back from a real SQLCipher workspace (decrypt + JSON)."""
    from fieldkit.store import create_workspace

    ws, _ = create_workspace(folder / "home", passphrase="bench export: a long passphrase")
    with ws:
        ws.forms.add(form_definition)
        with ws.records.batch():
            for r in records:
                ws.records.import_received(
                    record_id=r.id, form_id=r.form_id, form_version=r.form_version,
                    answers=r.answers, device=r.device, capture_day=r.capture_day,
                    finalized_at=r.finalized_at,
                )  # fmt: skip
        start = time.perf_counter()
        got = ws.records.list(form_id=FORM_ID)
        elapsed = time.perf_counter() - start
        assert len(got) == len(records)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store-sample", type=int, default=10_000)
    args = parser.parse_args()

    import pandas as pd

    from fieldkit.analysis import build_tables, write_tables
    from fieldkit.forms import Form
    from fieldkit.forms.xlsform import parse_xlsform

    folder = Path(tempfile.mkdtemp(prefix="fieldkit-bench-export-"))
    form_file = folder / "form.md"
    form_file.write_text(_form_markdown(), encoding="utf-8")
    check = parse_xlsform(form_file, build=False)
    if check.errors or check.definition is None:
        sys.exit(f"bench form does not load: {check.errors}")
    form = Form.from_definition(check.definition)
    records = _records(args.records)
    root_rows, member_rows = _plain_dicts(records)

    figures: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def timed(name: str) -> Iterator[None]:
        # Wall time is what a user waits; CPU time (all threads of this process) is what
        # the work costs, and stays meaningful when the shared machine is busy.
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        figures.setdefault(f"{name}_s", []).append(time.perf_counter() - wall)
        figures.setdefault(f"{name}_cpu_s", []).append(time.process_time() - cpu)

    shape: dict[str, Any] = {}
    for run in range(args.runs):
        out = folder / f"run{run}"
        with timed("build"):
            frames = build_tables([form], records)
        with timed("csv"):
            write_tables(frames, out_dir=out / "csv", fmt="csv", workbook_name=FORM_ID)
        with timed("parquet"):
            write_tables(frames, out_dir=out / "pq", fmt="parquet", workbook_name=FORM_ID)
        shape = {name: list(frame.shape) for name, frame in frames.items()}
        with timed("baseline_build"):
            base = {FORM_ID: pd.DataFrame(root_rows), "member": pd.DataFrame(member_rows)}
        (out / "base").mkdir(parents=True)
        with timed("baseline_csv"):
            for name, frame in base.items():
                frame.to_csv(out / "base" / f"{name}.csv", index=False)
        with timed("baseline_parquet"):
            for name, frame in base.items():
                frame.to_parquet(out / "base" / f"{name}.parquet", index=False)
        frames = base = {}

    med = {k: round(statistics.median(v), 3) for k, v in figures.items()}
    result: dict[str, Any] = {
        "bench": "export",
        "records": args.records,
        "questions": QUESTIONS,
        "repeat_instances": REPEAT_INSTANCES,
        "tables": shape,
        "runs": args.runs,
        "source": "in-memory fieldkit.store.Record objects; store read timed separately",
        "load_average_1min": round(os.getloadavg()[0], 2),
        **med,
    }
    for clock in ("s", "cpu_s"):
        ours_pq = med[f"build_{clock}"] + med[f"parquet_{clock}"]
        base_pq = med[f"baseline_build_{clock}"] + med[f"baseline_parquet_{clock}"]
        ours_csv = med[f"build_{clock}"] + med[f"csv_{clock}"]
        base_csv = med[f"baseline_build_{clock}"] + med[f"baseline_csv_{clock}"]
        suffix = "" if clock == "s" else "_cpu"
        result[f"build_parquet{suffix}_s"] = round(ours_pq, 3)
        result[f"baseline_build_parquet{suffix}_s"] = round(base_pq, 3)
        result[f"ratio_parquet{suffix}"] = round(ours_pq / base_pq, 2)
        result[f"ratio_csv{suffix}"] = round(ours_csv / base_csv, 2)
    result["target_build_parquet_s"] = 15
    result["target_ratio"] = 2
    if args.store_sample:
        sample = records[: args.store_sample]
        result["store_read_records"] = len(sample)
        result["store_read_s"] = round(_store_read(check.definition, sample, folder), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
