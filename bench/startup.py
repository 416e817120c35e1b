"""Startup benchmark: how soon fieldkit answers (issues 4 and 12).

Whole-process wall time, median of several runs, of
- ``fieldkit --help``;
- ``fieldkit capture FORM`` of a consent-gated form until its first question (the case code) is
  on screen, with CONSENTS consent records on the laptop (passphrase from FIELDKIT_PASSPHRASE,
  so every run derives the key: Argon2id, reported separately);
- the same for a form that needs no consent (what the consent check at the start adds);
- from typing the case code to the consent's answers on screen (the case look-up);
and, as the baseline in the same run, ``python -c "import typer"``. In-process, the median time
one keystroke takes to filter a 5,000-choice list and draw its page, against a bare substring
scan of the same labels.

Targets: ``--help`` ≤ 0.25 s; first question ≤ 0.6 s plus the key derivation, case look-ups
included; a keystroke of the filter ≤ 20 ms.
Prints one JSON line. Run: ``.venv/bin/python bench/startup.py [--runs N] [--consents N]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/sync.py would stand in for the sync package: this folder is not a place to import from.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

PASSPHRASE = "bench-startup correct horse battery staple"
FORM_MD = """\
| survey |
| | type | name | label | required |
| | text | client_pseudonym | Case code | yes |
| | text | site | Site code | yes |
| | integer | people | How many people live here? | yes |
| settings |
| | form_id | version | consent_scopes |
| | bench_startup | 1 | interview store |
"""
PLAIN_MD = """\
| survey |
| | type | name | label | required |
| | integer | people | How many people live here? | yes |
| | text | site | Site code | |
| settings |
| | form_id | version |
| | bench_plain | 1 |
"""
FIRST = b"First the case code"
PLAIN_FIRST = b"How many people live here?"
LOOKED_UP = b"From the consent record"
CHOICES = 5000
QUERIES = ("k", "ke", "ken", "keny", "kenya", "kenya 4", "kenya 49", "s", "so", "sou", "sout")


def _fieldkit() -> list[str]:
    script = Path(sys.executable).with_name("fieldkit")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from fieldkit.cli import main; main()"]


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, seen: bytearray) -> None:
    assert proc.stdout is not None
    while marker not in seen:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            raise RuntimeError(f"capture ended before {marker!r}")
        seen.extend(chunk)


def _plain_question(cmd: list[str], env: dict[str, str]) -> float:
    """Start → the first question of a form that needs no consent (the baseline of issue 4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    _read_until(proc, PLAIN_FIRST, bytearray())
    elapsed = time.perf_counter() - start
    proc.stdin.close()  # end of input: the quick exit (nothing typed, so no draft is left)
    proc.wait(timeout=30)
    proc.stdout.close()
    return elapsed


def _first_question(cmd: list[str], env: dict[str, str], code: str) -> tuple[float, float]:
    """(start → the case code question, the code typed → the consent's answers shown)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    seen = bytearray()
    _read_until(proc, FIRST, seen)
    first = time.perf_counter() - start
    typed = time.perf_counter()
    proc.stdin.write(f"{code}\n".encode())
    proc.stdin.flush()
    _read_until(proc, LOOKED_UP, seen)
    looked_up = time.perf_counter() - typed
    # End of input is the quick exit: the draft the code made is saved; the next run makes
    # its own (drafts are not consents: the look-up reads as many every run).
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()
    return first, looked_up


def _kdf_seconds() -> float:
    from fieldkit.crypto.keys import KdfParams, derive_passphrase_kek

    start = time.perf_counter()
    derive_passphrase_kek(PASSPHRASE, KdfParams.fresh())
    return time.perf_counter() - start


def _workspace(root: Path, consents: int) -> tuple[Path, str]:
    """A workspace with the gated form, the bundled consent and ``consents`` consent records."""
    from fieldkit.bundled import bundled_form
    from fieldkit.capture import new_case_code
    from fieldkit.forms import load_form
    from fieldkit.store import create_workspace

    home = root / "home"
    form_path = root / "bench_startup.md"
    form_path.write_text(FORM_MD, encoding="utf-8")
    plain_path = root / "bench_plain.md"
    plain_path.write_text(PLAIN_MD, encoding="utf-8")
    ws, _recovery = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(load_form(form_path).definition)
        ws.forms.add(load_form(plain_path).definition)
        consent = ws.forms.add(load_form(bundled_form("consent")).definition)
        code = ""
        with ws.records.batch():
            for _ in range(consents):
                code = new_case_code(ws)
                answers = {
                    "/data/header/site": "KE-0101",
                    "/data/header/interview_date": "2026-01-15",
                    "/data/consent_given": "yes",
                    "/data/consent_scopes": "interview store statistics",
                    "/data/client_pseudonym": code,
                }
                draft = ws.records.create_draft(
                    form_id=consent.form_id, form_version=consent.version, answers=answers
                )
                ws.records.finalize(draft.id, answers=answers)
    return home, code


def _keystrokes() -> tuple[float, float]:
    """Median seconds per keystroke: filter + draw a page; and a bare substring scan."""
    from rich.console import Console

    from fieldkit.capture._choices import ChoiceView
    from fieldkit.capture._screen import choice_rows, list_status

    names = [f"c{n}" for n in range(CHOICES)]
    labels = [f"{('Kenya' if n % 97 == 0 else 'South Sudan' if n % 89 == 0 else 'Place')} {n}"
              for n in range(CHOICES)]  # fmt: skip
    console = Console(file=io.StringIO(), width=80, force_terminal=True)
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(20):
        view = ChoiceView(names, labels)
        for query in QUERIES:
            start = time.perf_counter()
            shown = view.matches(query)
            page = view.page_of(15, shown=shown, page=0)
            rows = choice_rows(view, rows=page.rows, lang=None)
            status = list_status(view, first=page.first, last=page.last, count=page.count,
                                 query=query, paged=page.pages > 1, lang=None)  # fmt: skip
            for row in rows:
                console.print(row, no_wrap=True, overflow="ellipsis", crop=True)
            console.print(status)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            lowered = query.lower()
            [label for label in labels if lowered in label.lower()]
            bare.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(bare)


def main() -> None:
    """Measure and print one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--consents", type=int, default=2000)
    args = parser.parse_args()
    runs = args.runs

    with tempfile.TemporaryDirectory() as tmp:
        home, code = _workspace(Path(tmp), args.consents)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_")} | {
            "FIELDKIT_HOME": str(home),
            "FIELDKIT_PASSPHRASE": PASSPHRASE,
            "COLUMNS": "100",
        }
        fk = _fieldkit()
        baseline: list[float] = []
        helps: list[float] = []
        firsts: list[float] = []
        plains: list[float] = []
        lookups: list[float] = []
        kdfs: list[float] = []
        # Interleaved, so that every figure sees the same (shared, noisy) machine.
        for _ in range(runs):
            baseline.append(_time([sys.executable, "-c", "import typer"], env))
            helps.append(_time([*fk, "--help"], env))
            first, looked_up = _first_question([*fk, "capture", "bench_startup"], env, code)
            firsts.append(first)
            lookups.append(looked_up)
            plains.append(_plain_question([*fk, "capture", "bench_plain"], env))
            kdfs.append(_kdf_seconds())
    key_s, bare_s = _keystrokes()

    import_typer = statistics.median(baseline)
    help_s = statistics.median(helps)
    first_s = statistics.median(firsts)
    plain_s = statistics.median(plains)
    lookup_s = statistics.median(lookups)
    kdf_s = statistics.median(kdfs)
    print(
        json.dumps(
            {
                "runs": runs,
                "consents_on_laptop": args.consents,
                "load_average": round(os.getloadavg()[0], 2),
                "import_typer_s": round(import_typer, 4),
                "help_s": round(help_s, 4),
                "help_ratio_to_import_typer": round(help_s / import_typer, 2),
                "first_question_s": round(first_s, 4),
                "key_derivation_s": round(kdf_s, 4),
                "first_question_minus_kdf_s": round(first_s - kdf_s, 4),
                "first_question_ratio_to_import_typer": round(first_s / import_typer, 2),
                "first_question_no_consent_s": round(plain_s, 4),
                "consent_check_at_start_s": round(first_s - plain_s, 4),
                "case_lookup_s": round(lookup_s, 4),
                "filter_keystroke_ms": round(key_s * 1000, 3),
                "bare_substring_scan_ms": round(bare_s * 1000, 3),
                "filter_ratio_to_bare_scan": round(key_s / bare_s, 2),
                "help_target_met": help_s <= 0.25,
                "first_question_target_met": first_s - kdf_s <= 0.6,
                "filter_target_met": key_s <= 0.020,
            }
        )
    )


if __name__ == "__main__":
    main()
