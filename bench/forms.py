"""Forms engine benchmark: a generated 2,000-question form.

Prints one JSON line: load time (fieldkit's whole load, and pyxform's parse alone as the
baseline, measured in the same run), median and p99 of one ``set`` with its incremental
recomputation, and the same for a full re-evaluation, with the ratios.

Run: .venv/bin/python bench/forms.py
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path

QUESTIONS = 2000


def generate(path: Path) -> None:
    """Groups of 20 with relevance chains, constraints, a chain of calculates, one repeat."""
    rows = ["| survey |", "| | type | name | label | relevant | constraint | calculation |"]
    count = 0
    group = 0
    previous = ""
    while count < QUESTIONS:
        group += 1
        kind = "repeat" if group == 50 else "group"  # questions 981-1000 form a repeat
        # a group's relevance reads the last question before it (never one inside the repeat)
        anchor = 980 if group == 51 else max(count, 1)
        rows.append(f"| | begin_{kind} | g{group} | Group {group} | ${{q{anchor}}} != 7 | | |")
        for _ in range(20):
            count += 1
            relevant = f"${{q{count - 1}}} != 13" if count > 1 and count % 3 == 0 else ""
            constraint = ". >= 0 and . < 1000" if count % 2 == 0 else ""
            rows.append(f"| | integer | q{count} | Q {count} | {relevant} | {constraint} | |")
            if count % 10 == 0:
                # A running total: outside the repeat each calculate adds the previous one, so
                # an early answer ripples through up to 200 calculations.
                formula = f"${{q{count}}} + ${{q{count - 1}}} * 2"
                if kind == "group" and previous:
                    formula += f" + ${{{previous}}}"
                rows.append(f"| | calculate | c{count} | | | | {formula} |")
                if kind == "group":
                    previous = f"c{count}"
        rows.append(f"| | end_{kind} | | | | | |")
    rows.append("| | calculate | total | | | | sum(${q990}) + count(${g50}) |")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    from pyxform.xls2json import parse_file_to_json

    from fieldkit.forms import Form, FormSession, load_form

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.md"
        generate(path)
        parse_file_to_json(str(path))  # warm the imports for both measurements
        load_form(path, build=False)
        baseline, full_load, quick_load, from_def = [], [], [], []
        for _ in range(3):
            t = time.perf_counter()
            parse_file_to_json(str(path))
            baseline.append(time.perf_counter() - t)
            t = time.perf_counter()
            form = load_form(path)
            full_load.append(time.perf_counter() - t)
            t = time.perf_counter()
            load_form(path, build=False)
            quick_load.append(time.perf_counter() - t)
            t = time.perf_counter()
            Form.from_definition(form.definition)
            from_def.append(time.perf_counter() - t)

    session = FormSession(form)
    session.add_repeat("g50")
    questions = [n.name for n in form.nodes() if n.kind == "question" and n.repeat is None]
    # A record late in the interview: every question answered, so a change ripples through
    # the calculation chain instead of stopping at the first empty (NaN) operand.
    for name in questions:
        session.set(name, "1")
    for i in range(1, 21):
        session.set(f"/data/g50[1]/q{980 + i}", "1")
    rng = random.Random(7)
    incremental, full = [], []
    for _ in range(400):
        name = rng.choice(questions)
        value = str(rng.randint(0, 20))
        t = time.perf_counter()
        session.set(name, value)
        incremental.append(time.perf_counter() - t)
    for _ in range(15):
        name = rng.choice(questions)
        session.set(name, str(rng.randint(0, 20)))
        t = time.perf_counter()
        session.recompute_all()
        full.append(time.perf_counter() - t)
    med_set = statistics.median(incremental)
    med_full = statistics.median(full)
    print(
        json.dumps(
            {
                "questions": len([n for n in form.nodes() if n.kind == "question"]),
                "load_s": round(statistics.median(full_load), 4),
                "load_without_xform_build_s": round(statistics.median(quick_load), 4),
                "from_definition_s": round(statistics.median(from_def), 4),
                "pyxform_parse_s": round(statistics.median(baseline), 4),
                "load_ratio_to_pyxform_parse": round(
                    statistics.median(full_load) / statistics.median(baseline), 2
                ),
                "set_median_ms": round(med_set * 1000, 3),
                "set_p99_ms": round(percentile(incremental, 0.99) * 1000, 3),
                "full_recompute_median_ms": round(med_full * 1000, 3),
                "full_recompute_p99_ms": round(percentile(full, 0.99) * 1000, 3),
                "full_over_incremental": round(med_full / med_set, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
