"""Export benchmark (issue 16): 100,000 records read and decrypted from a real workspace, to
CSV, XLSX and Parquet, against plain pandas writing the same frames.

The records are of two versions of one form (a question moved between groups, a choice
added), with labels in two languages, dates and date-times, a geopoint, a select_one and a
select_multiple, and a repeat ``member`` (2 instances) holding a nested repeat ``visit``
(1 or 2 instances). They are imported once into a real SQLCipher workspace (not timed).

Each format is then exported in a fresh child process, as ``fieldkit export`` would do it:
open the workspace, read and decrypt every record, build the tables (label headers and label
values in French), write them with the codebook and manifest. The child reports its wall time
by phase and its peak memory (max RSS). Baseline, same run: ``DataFrame.to_csv``,
``to_parquet`` and ``to_excel`` (openpyxl, pandas' default engine) of the very same frames.

Targets: Parquet ≤ 15 s and XLSX ≤ 30 s end to end. Prints one JSON line (medians of
``--runs``). Run: ``.venv/bin/python bench/export.py [--records N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FORM_ID = "bench_export"
PASSPHRASE = "bench export: a long passphrase 2026"
SIGNS = ["debt", "papers", "threats", "isolation", "wages", "violence"]
TEXTS = 8  # plain text questions besides the typed ones


def _form_markdown(version: int) -> str:
    group = "household" if version == 1 else "place"
    rows = [
        "| survey |",
        "| | type | name | label::English (en) | label::French (fr) |",
        "| | text | site | Site | Site |",
        "| | date | visit_day | Visit day | Jour de visite |",
        "| | dateTime | seen_at | Seen at | Vu à |",
        "| | select_one kind | kind | Kind | Type |",
        "| | select_multiple signs | signs | Signs | Signes |",
        "| | geopoint | point | Point | Point |",
        "| | decimal | amount | Amount | Montant |",
        *[f"| | text | t{i} | Text {i} | Texte {i} |" for i in range(TEXTS)],
        *[f"| | integer | n{i} | Number {i} | Nombre {i} |" for i in range(6)],
        f"| | begin_group | {group} | Group | Groupe |",
        "| | integer | moved | Moved | Déplacée |",
        f"| | end_group | {group} | | |",
        "| | begin_repeat | member | Member | Membre |",
        "| | integer | m_age | Age | Âge |",
        "| | select_one yn | m_school | In school | Scolarisé |",
        "| | begin_repeat | visit | Visit | Visite |",
        "| | date | v_day | Visit day | Jour |",
        "| | text | v_note | Note | Note |",
        "| | end_repeat | visit | | |",
        "| | end_repeat | member | | |",
        "| choices |",
        "| | list_name | name | label::English (en) | label::French (fr) |",
        "| | yn | yes | Yes | Oui |",
        "| | yn | no | No | Non |",
        "| | kind | school | School | École |",
        "| | kind | market | Market | Marché |",
        *(["| | kind | clinic | Clinic | Clinique |"] if version == 2 else []),
        *[f"| | signs | {s} | {s.title()} | {s.upper()} |" for s in SIGNS],
        "| settings |",
        "| | form_id | version | default_language |",
        f"| | {FORM_ID} | {version} | English (en) |",
    ]
    return "\n".join(rows) + "\n"


def _answers(n: int) -> tuple[str, dict[str, str]]:
    version = 1 + n % 2
    day = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}"
    group = "household" if version == 1 else "place"
    a = {
        "/data/site": f"KE-{n % 40:04d}",
        "/data/visit_day": day,
        "/data/seen_at": f"{day}T{n % 24:02d}:15:00.000+03:00",
        "/data/kind": ("school", "market", "clinic")[n % (2 + (version == 2))],
        "/data/signs": " ".join(s for j, s in enumerate(SIGNS) if (n >> j) & 1),
        "/data/point": f"-1.{n % 997:03d} 36.{n % 991:03d}" + (" 1700 5" if n % 3 else ""),
        "/data/amount": f"{(n % 1000) / 8:.3f}",
        f"/data/{group}/moved": str(n % 50),
        "/data/meta/instanceID": f"uuid:{n:032x}",
    }
    for i in range(TEXTS):
        a[f"/data/t{i}"] = f"text {n % 97} of {i}"
    for i in range(6):
        a[f"/data/n{i}"] = str((n * 7 + i) % 90)
    for m in (1, 2):
        a[f"/data/member[{m}]/m_age"] = str((n + m) % 80)
        a[f"/data/member[{m}]/m_school"] = "yes" if (n + m) % 3 else "no"
        for v in range(1, 1 + (1 + (n + m) % 2)):
            a[f"/data/member[{m}]/visit[{v}]/v_day"] = day
            a[f"/data/member[{m}]/visit[{v}]/v_note"] = f"note {v}"
    return str(version), a


def _setup(folder: Path, count: int) -> Path:
    from fieldkit.forms.xlsform import parse_xlsform
    from fieldkit.store import create_workspace

    home = folder / "home"
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        for version in (1, 2):
            path = folder / f"v{version}.md"
            path.write_text(_form_markdown(version), encoding="utf-8")
            check = parse_xlsform(path, build=False)
            if check.errors or check.definition is None:
                sys.exit(f"bench form does not load: {check.errors}")
            ws.forms.add(check.definition)
        batch = []
        for n in range(count):
            version, answers = _answers(n)
            day = answers["/data/visit_day"]
            batch.append({
                "record_id": f"00000000-0000-4000-8000-{n:012d}", "form_id": FORM_ID,
                "form_version": version, "answers": answers, "device": "dev-bench",
                "capture_day": day, "finalized_at": f"{day}T10:00:00.000Z",
                "received_at": f"{day}T12:00:00.000Z",
            })  # fmt: skip
            if len(batch) == 5000:
                ws.records.import_many(batch)
                batch = []
        if batch:
            ws.records.import_many(batch)
    return home


def _options() -> Any:
    from fieldkit.analysis import ExportOptions

    return ExportOptions(headers="labels", values="labels", lang="fr", overwrite=True)


def _child(home: Path, fmt: str, out: Path) -> None:
    """One export as the command does it; prints its phases and peak memory as JSON."""
    from fieldkit.analysis.export import write_built
    from fieldkit.analysis.tables import build_from, form_versions
    from fieldkit.store import open_workspace

    start = time.perf_counter()
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        opened = time.perf_counter()
        records = ws.records.list(form_id=FORM_ID)
        read = time.perf_counter()
        built = build_from(form_versions(ws, FORM_ID), records, _options())
        del records
        done_build = time.perf_counter()
        write_built(built, fmt=fmt, out_dir=out)  # type: ignore[arg-type]
        written = time.perf_counter()
    rows = {name: len(frame) for name, frame in built.frames.items()}
    print(json.dumps({
        "open_s": opened - start, "read_s": read - opened, "build_s": done_build - read,
        "write_s": written - done_build, "total_s": written - start, "rows": rows,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


def _baseline(home: Path, out: Path) -> dict[str, float]:
    """Plain pandas writing the same frames (built here once, not timed)."""
    from fieldkit.analysis.tables import build_from, form_versions
    from fieldkit.store import open_workspace

    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        built = build_from(form_versions(ws, FORM_ID), ws.records.list(form_id=FORM_ID),
                           _options())  # fmt: skip
    frames = built.frames
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    start = time.perf_counter()
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    times["csv"] = time.perf_counter() - start
    start = time.perf_counter()
    for name, frame in frames.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    times["parquet"] = time.perf_counter() - start
    start = time.perf_counter()
    import pandas as pd

    # Excel has no time zones: pandas refuses zoned date-times, so they go as UTC clock time.
    with pd.ExcelWriter(out / "book.xlsx", engine="openpyxl") as writer:
        for name, frame in frames.items():
            naive = frame.copy()
            for c in naive.columns:
                if getattr(naive[c].dtype, "tz", None) is not None:
                    naive[c] = naive[c].dt.tz_localize(None)
            naive.to_excel(writer, sheet_name=name[:31], index=False)
    times["xlsx"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", nargs=3, metavar=("HOME", "FMT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return
    folder = Path(tempfile.mkdtemp(prefix="fieldkit-bench-export-"))
    started = time.perf_counter()
    home = _setup(folder, args.records)
    setup_s = time.perf_counter() - started
    runs: dict[str, list[dict[str, Any]]] = {"csv": [], "xlsx": [], "parquet": []}
    base: dict[str, list[float]] = {"csv": [], "xlsx": [], "parquet": []}
    for run in range(args.runs):
        for fmt in runs:
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(home), fmt, str(folder / f"{fmt}{run}")],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            runs[fmt].append(json.loads(child.stdout.strip().splitlines()[-1]))
        for fmt, seconds in _baseline(home, folder / f"base{run}").items():
            base[fmt].append(seconds)
    result: dict[str, Any] = {
        "bench": "export",
        "records": args.records,
        "runs": args.runs,
        "source": "read and decrypted from a SQLCipher workspace in a fresh process per format",
        "load_average_1min": round(os.getloadavg()[0], 2),
        "setup_import_s": round(setup_s, 1),
        "tables": runs["csv"][0]["rows"],
    }
    for fmt, measured in runs.items():
        for phase in ("read_s", "build_s", "write_s", "total_s"):
            result[f"{fmt}_{phase}"] = round(statistics.median(m[phase] for m in measured), 2)
        result[f"{fmt}_peak_rss_mb"] = round(max(m["peak_rss_mb"] for m in measured))
        pandas_s = statistics.median(base[fmt])
        result[f"{fmt}_baseline_pandas_write_s"] = round(pandas_s, 2)
        result[f"{fmt}_ratio_write"] = round(result[f"{fmt}_write_s"] / pandas_s, 2)
        result[f"{fmt}_ratio_total"] = round(result[f"{fmt}_total_s"] / pandas_s, 2)
    result["target_parquet_total_s"] = 15
    result["target_xlsx_total_s"] = 30
    print(json.dumps(result))


if __name__ == "__main__":
    main()
