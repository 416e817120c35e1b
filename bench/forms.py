"""Forms engine benchmark: a generated 2,000-question form, nested repeats, regex().

Prints one JSON line: load time (fieldkit's whole load, and pyxform's parse alone as the
baseline, measured in the same run), median and p99 of one ``set`` with its incremental
recomputation, and the same for a full re-evaluation, with the ratios. Then (issue 13):
building a record of 20 x 20 x 20 nested repeats against a flat repeat of the same size
(the ratio shows nesting costs no more per node), the time to refuse an answer that would
make 60 x 60 x 60 instances, and regex() on RE2 against Python's backtracking ``re`` (an
ordinary pattern; and ``^(a+)+$`` on 5,000 characters against ``re`` on 22).

Run: .venv/bin/python bench/forms.py
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
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


def nested_form(count: str, *, levels: int, questions: int) -> str:
    rows = ["| survey |", "| | type | name | label | repeat_count |"]
    if count == "${n}":
        rows.append("| | integer | n | N | |")
    for level in range(levels):
        rows.append(f"| | begin_repeat | r{level} | R{level} | {count} |")
        rows.extend(f"| | text | q{level}_{i} | Q | |" for i in range(questions))
    rows.extend("| | end_repeat | | | |" for _ in range(levels))
    return "\n".join(rows) + "\n"


def median_time(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        action()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def repeats_and_regex(folder: Path) -> dict[str, float | int]:
    """Issue 13's figures: nested repeats, the record cap, regex() on RE2."""
    import re

    from fieldkit.errors import AnswerError
    from fieldkit.forms import FormSession, load_form
    from fieldkit.forms.xpath._regex import compile_pattern

    nested_path = folder / "nested.md"
    nested_path.write_text(nested_form("20", levels=3, questions=1), encoding="utf-8")
    nested = load_form(nested_path)
    size = FormSession(nested).tree.size
    flat_path = folder / "flat.md"
    # One repeat of 1,000 instances with as many nodes in all as the nested record.
    flat_path.write_text(
        nested_form("1000", levels=1, questions=round(size / 1000) - 1), encoding="utf-8"
    )
    flat = load_form(flat_path)
    nested_s = median_time(lambda: FormSession(nested), 5)
    flat_s = median_time(lambda: FormSession(flat), 5)

    answered_path = folder / "answered.md"
    answered_path.write_text(nested_form("${n}", levels=3, questions=1), encoding="utf-8")
    answered = load_form(answered_path)

    def refuse() -> None:
        session = FormSession(answered)
        try:
            session.set("n", "60")
        except AnswerError:
            return
        raise AssertionError("an answer making 216,000 instances was accepted")

    refusal_s = median_time(refuse, 3)

    ordinary = r"^\+?[0-9 ]{7,15}$"
    re2_pattern, re_pattern = compile_pattern(ordinary), re.compile(ordinary)
    phone = "+254 700 000000"
    loops = 20_000
    re2_us = median_time(lambda: [re2_pattern.search(phone) for _ in range(loops)], 5)
    re_us = median_time(lambda: [re_pattern.search(phone) for _ in range(loops)], 5)
    hostile = r"^(a+)+$"
    re2_hostile = compile_pattern(hostile)
    re2_hostile_s = median_time(lambda: re2_hostile.search("a" * 5000 + "b"), 5)
    re_hostile_s = median_time(lambda: re.search(hostile, "a" * 22 + "b"), 3)
    return {
        "nested_20x20x20_nodes": size,
        "nested_20x20x20_build_s": round(nested_s, 4),
        "flat_same_size_build_s": round(flat_s, 4),
        "nested_over_flat": round(nested_s / flat_s, 2),
        "answer_refused_at_60x60x60_s": round(refusal_s, 4),
        "regex_re2_ordinary_us": round(re2_us / loops * 1e6, 2),
        "regex_python_re_ordinary_us": round(re_us / loops * 1e6, 2),
        "regex_re2_over_python_re": round(re2_us / re_us, 1),
        "regex_re2_catastrophic_5000_chars_ms": round(re2_hostile_s * 1000, 3),
        "regex_python_re_catastrophic_22_chars_ms": round(re_hostile_s * 1000, 1),
    }


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
        issue13 = repeats_and_regex(Path(folder))

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
                "load_average_1min": round(os.getloadavg()[0], 2),
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
                **issue13,
            }
        )
    )


if __name__ == "__main__":
    main()
