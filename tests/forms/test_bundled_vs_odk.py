"""Random interviews over the bundled forms: fieldkit must agree with ODK (JavaRosa) on every leaf.

Each interview answers most questions in document order with random valid or invalid values,
then changes a few answers, as a hesitant interviewer would. Seeded, so a failure replays.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from bundled_support import Outcome, Scenario, odk_outcomes, run_fieldkit

from fieldkit.bundled import FORM_NAMES, bundled_form

INTERVIEWS = 12
TEXTS = ["KE-0101", "AB-1234", "AB-1234-G", "Jane", "+254 700 000000", "0700 000 000", "KE 01", ""]


def _value(node: Any, rng: random.Random) -> str | None:
    if node.type == "select one":
        return rng.choice([c.name for c in node.choices] + [""])
    if node.type == "select all that apply":
        # Choice order, as ODK Collect stores a ticked list.
        return " ".join(c.name for c in node.choices if rng.random() < 0.3)
    if node.type == "date":
        return f"202{rng.choice([4, 5])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if node.type == "integer":
        return str(rng.choice([0, 3, 40, -2, 20000]))
    if node.type == "text":
        return rng.choice(TEXTS)
    return None


def interviews(form_name: str) -> list[Scenario]:
    from fieldkit.forms import load_form

    form = load_form(bundled_form(form_name))
    questions = [n for n in form.nodes() if n.kind == "question"]
    rng = random.Random(f"bundled-{form_name}")
    out = []
    for number in range(INTERVIEWS):
        steps = []
        for node in questions:
            value = _value(node, rng) if rng.random() < 0.85 else None
            if value is not None:
                steps.append((node.name, value))
        for _ in range(rng.randint(0, 4)):
            node = rng.choice(questions)
            value = _value(node, rng)
            if value is not None:
                steps.append((node.name, value))
        out.append(Scenario(f"{form_name}-{number}", tuple(steps)))
    return out


@pytest.mark.parity
@pytest.mark.parametrize("form_name", FORM_NAMES)
def test_fieldkit_agrees_with_odk(form_name: str, request: pytest.FixtureRequest) -> None:
    scenarios = interviews(form_name)
    odk = odk_outcomes(request, form_name, scenarios)
    for sc in scenarios:
        ours = run_fieldkit(form_name, sc)
        theirs: dict[str, Outcome] = odk[sc.id]
        differ = {
            name: (ours[name], outcome)
            for name, outcome in theirs.items()
            if name != "instanceID" and ours[name] != outcome
        }
        assert differ == {}, f"{sc.id}: steps {list(sc.steps)}"
