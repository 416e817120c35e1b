"""Startup benchmark: how soon fieldkit answers (issue 4).

Whole-process wall time, median of several runs, of
- ``fieldkit --help``;
- ``fieldkit capture FORM`` until its first question is on screen (passphrase from
  FIELDKIT_PASSPHRASE, so every run derives the key: Argon2id, reported separately);
and, as the baseline in the same run, ``python -c "import typer"``.

Targets: ``--help`` ≤ 0.25 s; first question ≤ 0.6 s plus the key derivation.
Prints one JSON line. Run: ``.venv/bin/python bench/startup.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSPHRASE = "bench-startup correct horse battery staple"
FORM_MD = """\
| survey |
| | type | name | label | required |
| | integer | people | How many people live here? | yes |
| | text | site | Site code | |
| settings |
| | form_id | version |
| | bench_startup | 1 |
"""
MARKER = b"Question 1 of"


def _fieldkit() -> list[str]:
    script = Path(sys.executable).with_name("fieldkit")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from fieldkit.cli import main; main()"]


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _first_question(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    seen = b""
    while MARKER not in seen:
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError("capture ended before its first question")
        seen += chunk
    elapsed = time.perf_counter() - start
    proc.stdin.close()  # end of input: the quick exit (nothing typed, so no draft is left)
    proc.wait(timeout=30)
    return elapsed


def _kdf_seconds() -> float:
    from fieldkit.crypto.keys import KdfParams, derive_passphrase_kek

    start = time.perf_counter()
    derive_passphrase_kek(PASSPHRASE, KdfParams.fresh())
    return time.perf_counter() - start


def main() -> None:
    """Measure and print one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    from fieldkit.forms import load_form
    from fieldkit.store import create_workspace

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        form_path = Path(tmp) / "bench_startup.md"
        form_path.write_text(FORM_MD, encoding="utf-8")
        ws, _recovery = create_workspace(home, passphrase=PASSPHRASE)
        with ws:
            ws.forms.add(load_form(form_path).definition)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_")} | {
            "FIELDKIT_HOME": str(home),
            "FIELDKIT_PASSPHRASE": PASSPHRASE,
            "COLUMNS": "100",
        }
        fk = _fieldkit()
        baseline: list[float] = []
        helps: list[float] = []
        firsts: list[float] = []
        kdfs: list[float] = []
        # Interleaved, so that every figure sees the same (shared, noisy) machine.
        for _ in range(runs):
            baseline.append(_time([sys.executable, "-c", "import typer"], env))
            helps.append(_time([*fk, "--help"], env))
            firsts.append(_first_question([*fk, "capture", "bench_startup"], env))
            kdfs.append(_kdf_seconds())

    import_typer = statistics.median(baseline)
    help_s = statistics.median(helps)
    first_s = statistics.median(firsts)
    kdf_s = statistics.median(kdfs)
    print(
        json.dumps(
            {
                "runs": runs,
                "import_typer_s": round(import_typer, 4),
                "help_s": round(help_s, 4),
                "help_ratio_to_import_typer": round(help_s / import_typer, 2),
                "first_question_s": round(first_s, 4),
                "key_derivation_s": round(kdf_s, 4),
                "first_question_minus_kdf_s": round(first_s - kdf_s, 4),
                "first_question_ratio_to_import_typer": round(first_s / import_typer, 2),
                "help_target_met": help_s <= 0.25,
                "first_question_target_met": first_s - kdf_s <= 0.6,
            }
        )
    )


if __name__ == "__main__":
    main()
