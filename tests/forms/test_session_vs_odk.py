"""Differential test: ``forms eval`` against ODK Web Forms' own engine, node by node.

Each form in diff_forms/ is converted to an XForm by pyxform and run by @getodk/xforms-engine
(ODK Web Forms) with seeded random answer sequences; fieldkit runs the same steps. Choice files
beside a form (CSV, GeoJSON) are given to the engine as its attachments. Every node's
value, relevant, required, readonly, constraint_valid and required_empty must agree.

Runs only where `node` and the engine exist (skips otherwise; under
CI=true that skip fails the run, and `.ci/run` installs the engine). Install the engine
OUTSIDE the repo, in $FIELDKIT_ODK_ENGINE_DIR (default /tmp/odkengine):

    mkdir -p /tmp/odkengine && cd /tmp/odkengine && npm init -y
    npm install @getodk/xforms-engine@0.22.0 jsdom

Known, deliberate differences (not generated here; see docs/forms.md):
- a value that is not a choice of the list, or not a whole number for an integer, is refused
  with an error (ODK stores "" or truncates);
- a ``trigger`` calculation reading calculations that depend on the trigger question itself:
  Web Forms sometimes evaluates it with stale values; fieldkit always reads fresh ones.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fieldkit.forms import Form, load_form
from fieldkit.forms.steps import evaluate_steps

ENGINE = Path(os.environ.get("FIELDKIT_ODK_ENGINE_DIR", "/tmp/odkengine"))
RUNNER = Path(__file__).with_name("odk_engine_runner.mjs")
CORPUS = Path(__file__).with_name("corpus") / "pyxform" / "tests"  # see its SOURCE.md
CORPUS_FORMS = [
    "example_xls/widgets.xls",
    "example_xls/xlsform_spec_test.xlsx",
    "example_xls/simple_loop.csv",
    "example_xls/cascading_select_test_equivalent.xls",
    "example_xls/repeat_date_test.xls",
    "example_xls/specify_other.xls",
]
FORMS = sorted(Path(__file__).with_name("diff_forms").glob("*.md")) + [
    CORPUS / name for name in CORPUS_FORMS
]
FIELDS = ("value", "relevant", "required", "readonly", "constraint_valid", "required_empty")
# ODK gives a constraint message only while the constraint fails: compared then.

pytestmark = [
    pytest.mark.parity,
    pytest.mark.skipif(
        shutil.which("node") is None
        or not (ENGINE / "node_modules/@getodk/xforms-engine").is_dir(),
        reason="node or the @getodk/xforms-engine reference engine is not installed",
    ),
]


def _attachments(path: Path) -> dict[str, str]:
    """The choice files beside a form (select_*_from_file), as ODK's engine fetches them."""
    return {
        f.name: f.read_text(encoding="utf-8")
        for f in path.parent.iterdir()
        if f.suffix in {".csv", ".geojson"} and f.name in path.read_text(errors="replace")
    }


def _odk(
    xform: str, runs: list[list[dict[str, object]]], attachments: dict[str, str]
) -> list[dict[str, list[Any]]]:
    """Every run of steps in one engine process (starting node is the slow part)."""
    out = subprocess.run(
        ["node", str(RUNNER), str(ENGINE)],
        input=json.dumps({"xform": xform, "runs": runs, "attachments": attachments}),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "TZ": "UTC"},
    )
    result: list[dict[str, list[Any]]] = json.loads(out.stdout)
    return result


def _value(node_type: str, choices: list[str], name: str, rng: random.Random) -> str | None:
    if rng.random() < 0.08:
        return ""
    if rng.random() < 0.08:
        # Values that do not fit: fieldkit reports them and stores what ODK stores.
        bad = {
            "integer": ["3.7", "-2.5", "abc"],
            "decimal": ["x1", "1,5"],
            "date": ["2024-02-30", "nope"],
            "time": ["25:00:00", "10:30"],
            "geopoint": ["bad", "95 2"],
            "select_one": ["zzz"],
            "select_multiple": [f"{choices[0]} zzz" if choices else "zzz"],
        }
        if node_type in bad:
            return rng.choice(bad[node_type])
    if node_type == "integer":
        return str(rng.choice([rng.randint(-3, 30), rng.randint(0, 200)]))
    if node_type == "decimal":
        return rng.choice(["1.5", "0", "-2.25", "10", "3.75", "100.125", ".5"])
    if node_type == "select_one":
        return rng.choice(choices) if choices else None
    if node_type == "select_multiple":
        return " ".join(rng.sample(choices, rng.randint(1, len(choices)))) if choices else None
    if node_type == "date":
        return rng.choice(["2024-02-29", "2000-01-01", "2026-11-28"])
    if node_type == "text":
        return rng.choice(["yes", "no", "a b", "12", "hello", ""])
    if node_type == "time":
        return rng.choice(["10:30:00.000+00:00", "23:59:00.000+00:00"])
    if node_type == "dateTime":
        return rng.choice(["2024-02-29T10:30:00.000+00:00", "2026-01-01T00:00:00.000+00:00"])
    if node_type == "geopoint":
        return rng.choice(["12.5 -3.25 100 5", "-1.28 36.82 0 10", "12 36"])
    if node_type == "barcode":
        return "abc123"
    return None


def _steps(form: Form, rng: random.Random, count: int = 25) -> list[dict[str, object]]:
    questions = [n for n in form.nodes() if n.kind == "question"]
    repeats = [n for n in form.nodes() if n.kind == "repeat" and n.repeat_count is None]
    steps: list[dict[str, object]] = []
    for _ in range(count):
        if repeats and rng.random() < 0.1:
            steps.append({"add_repeat": rng.choice(repeats).name, "count": rng.randint(1, 2)})
            continue
        node = rng.choice(questions)
        value = _value(node.type, [c.name for c in node.choices], node.name, rng)
        if value is None:
            continue
        # A name used more than once (a loop's questions, one per choice) needs its path.
        target = node.name if len(form.named(node.name)) == 1 else node.path
        if node.repeat is not None:
            target = node.path.replace(node.repeat, f"{node.repeat}[{rng.randint(1, 3)}]")
        steps.append({"set": target, "value": value})
    if form.languages and rng.random() < 0.5:
        steps.append({"set_language": rng.choice(form.languages)})
    return steps


@pytest.mark.slow
@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.name)
def test_same_state_as_odk(path: Path) -> None:
    from pyxform.xls2xform import convert

    form = load_form(path)
    xform = convert(str(path)).xform
    # Metadata (start, deviceid, meta/instanceID…) is not a question: forms eval leaves it out.
    metadata = {n.path for n in form.nodes() if n.kind == "metadata" or "/meta/" in n.path}
    differences: list[tuple[object, ...]] = []
    runs = [_steps(form, random.Random(seed)) for seed in range(8)]
    results = _odk(xform, runs, _attachments(path) if path.suffix == ".md" else {})
    for seed, steps in enumerate(runs):
        mine = evaluate_steps(form, steps, now=datetime.now(UTC))
        theirs = {n["path"]: n for n in results[seed]["nodes"]}
        seen = set()
        for node in mine["nodes"]:
            seen.add(node["path"])
            other = theirs.get(node["path"])
            if other is None:
                differences.append((seed, node["path"], "missing in ODK"))
                continue
            message = other.get("constraint_message")
            if message is not None and message != node["constraint_message"]:
                differences.append((seed, node["path"], "message", node["constraint_message"]))
            for field in FIELDS:
                if node[field] != other[field]:
                    differences.append((seed, node["path"], field, node[field], other[field]))
        for other_path in theirs:
            template = re.sub(r"\[\d+\]", "", str(other_path))
            if other_path not in seen and template not in metadata:
                differences.append((seed, other_path, "missing in fieldkit"))
    assert differences == []
