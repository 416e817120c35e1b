"""Shared helpers for tests/forms/test_bundled_*.py: scenarios, the fieldkit and ODK runners.

A scenario is a list of answers (applied in order, as an interviewer would) and what the form
must then hold. Each scenario runs twice: through fieldkit's FormSession and through JavaRosa,
ODK Collect's engine (inside the ODK_Validate.jar that pyxform ships), so the decision rules
are checked against ODK itself and the two engines are checked against each other.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest

from fieldkit.bundled import bundled_form

HERE = Path(__file__).resolve().parent
REFERENCE_SOURCE = HERE / "javarosa" / "ReferenceRun.java"
# Both engines run east of UTC (East Africa, UTC+3), where date arithmetic slips a day when
# a form forgets that a date is local midnight; both read the real clock for today() (ODK's
# engine cannot be pinned), so scenario dates lie in 2024-2025, before any run of these tests.
TIME_ZONE = "Africa/Nairobi"
EAST_AFRICA = timezone(timedelta(hours=3))


def now() -> datetime:
    """The real time at UTC+3, as FormSession's clock."""
    return datetime.now(EAST_AFRICA)


HEADER = {
    "interviewer_role": "social_worker",
    "site": "KE-0101",
    "interview_date": "2025-11-20",
    "interview_language": "en",
    "interpreter_used": "no",
    "mode": "in_person",
}
PERSON = {
    "client_pseudonym": "AB-1234-G",
    "sex": "female",
    "age_band": "30_38",
    "citizenship": "KE",
}


@dataclass(frozen=True)
class Scenario:
    """Answers set in order, the values expected afterwards, the nodes expected hidden/invalid."""

    id: str
    steps: tuple[tuple[str, str], ...]
    expect: dict[str, str] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    shown: frozenset[str] = frozenset()
    invalid: frozenset[str] = frozenset()
    complete: bool = False  # nothing stops finalizing (every required answered, constraints hold)


def scenario(
    id: str,
    answers: dict[str, str],
    *,
    then: dict[str, str] | None = None,
    expect: dict[str, str] | None = None,
    hidden: tuple[str, ...] = (),
    shown: tuple[str, ...] = (),
    invalid: tuple[str, ...] = (),
    complete: bool = False,
) -> Scenario:
    """Build a Scenario: ``answers`` in order, then ``then`` (changes made afterwards)."""
    return Scenario(
        id,
        (*answers.items(), *(then or {}).items()),
        expect or {},
        frozenset(hidden),
        frozenset(shown),
        frozenset(invalid),
        complete,
    )


@dataclass(frozen=True)
class Outcome:
    """What one engine reports for one leaf after a scenario."""

    relevant: bool
    value: str
    constraint_valid: bool
    required_empty: bool


def check(outcomes: dict[str, Outcome], sc: Scenario, *, engine: str) -> None:
    """Assert a scenario's expectations against one engine's outcomes."""
    got = {name: outcomes[name].value for name in sc.expect}
    assert got == sc.expect, f"{engine}: {sc.id}"
    for name in sc.hidden:
        assert not outcomes[name].relevant, f"{engine}: {sc.id}: {name} should be hidden"
    for name in sc.shown:
        assert outcomes[name].relevant, f"{engine}: {sc.id}: {name} should be shown"
    invalid = {n for n, o in outcomes.items() if not o.constraint_valid}
    assert invalid == set(sc.invalid), f"{engine}: {sc.id}: constraints failing"
    if sc.complete:
        missing = sorted(n for n, o in outcomes.items() if o.required_empty)
        assert missing == [], f"{engine}: {sc.id}: required answers missing"


def run_fieldkit(form_name: str, sc: Scenario) -> dict[str, Outcome]:
    """Run a scenario through fieldkit's FormSession."""
    from fieldkit.forms import FormSession

    session = FormSession(_fieldkit_form(form_name), now=now)
    for name, text in sc.steps:
        if text == "":
            session.clear(name)
        else:
            session.set(name, text)
    return {
        state.name: Outcome(
            state.relevant, state.value, state.constraint_valid, state.required_empty
        )
        for state in session.nodes()
    }


@cache
def _fieldkit_form(form_name: str):  # type: ignore[no-untyped-def]
    from fieldkit.forms import load_form

    return load_form(bundled_form(form_name))


def odk_validate_jar() -> Path:
    """pyxform's bundled ODK Validate (JavaRosa inside)."""
    import pyxform

    return (
        Path(pyxform.__file__).parent / "validators" / "odk_validate" / "bin" / "ODK_Validate.jar"
    )


def need_java() -> None:
    """Skip when no Java toolchain is installed (ODK's engine is Java).

    Mark the calling test ``parity``: under CI=true its skip then fails the run.
    """
    if shutil.which("java") is None or shutil.which("javac") is None:
        pytest.skip("java/javac not installed: ODK reference checks need them")


@cache
def _xform_xml(form_name: str) -> str:
    from pyxform.builder import create_survey_element_from_dict
    from pyxform.xls2json import parse_file_to_json

    definition = parse_file_to_json(str(bundled_form(form_name)))
    return str(create_survey_element_from_dict(definition).to_xml())


def xform(form_name: str, out_dir: Path) -> Path:
    """Convert a bundled form to XForm XML with pyxform, as ODK tools would (built once)."""
    target = out_dir / f"{form_name}.xml"
    if not target.exists():
        target.write_text(_xform_xml(form_name), encoding="utf-8")
    return target


def compile_reference(out_dir: Path) -> Path:
    """Compile the JavaRosa reference runner into out_dir unless an up-to-date build is there."""
    built = out_dir / "ReferenceRun.class"
    if not built.exists() or built.stat().st_mtime < REFERENCE_SOURCE.stat().st_mtime:
        subprocess.run(
            ["javac", "-d", str(out_dir), "-cp", str(odk_validate_jar()), str(REFERENCE_SOURCE)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return out_dir


def odk_outcomes(
    request: pytest.FixtureRequest, form_name: str, scenarios: list[Scenario]
) -> dict[str, dict[str, Outcome]]:
    """The module fixture body: every scenario of a form through JavaRosa (skipped without Java)."""
    need_java()
    factory = request.getfixturevalue("tmp_path_factory")
    # The compiled runner is kept in pytest's cache folder when there is one: javac is slow.
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("fieldkit-odk-reference") if cache is not None else factory.mktemp("odk")
    classes = compile_reference(folder)
    work = factory.mktemp(f"odk-{form_name}")
    return run_odk(form_name, scenarios, classes=classes, work=work)


def run_odk(
    form_name: str, scenarios: list[Scenario], *, classes: Path, work: Path
) -> dict[str, dict[str, Outcome]]:
    """Run every scenario of a form through JavaRosa in one JVM; outcomes by scenario id."""
    lines: list[str] = []
    for sc in scenarios:
        lines.extend(f"{name}={text}" for name, text in sc.steps)
        lines.append("---")
    done = subprocess.run(
        [
            "java",
            "-Djava.awt.headless=true",
            f"-Duser.timezone={TIME_ZONE}",
            "-cp",
            f"{odk_validate_jar()}:{classes}",
            "ReferenceRun",
            str(xform(form_name, work)),
        ],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    blocks = done.stdout.split("---\n")[: len(scenarios)]
    results: dict[str, dict[str, Outcome]] = {}
    for sc, block in zip(scenarios, blocks, strict=True):
        outcomes = {}
        for row in block.splitlines():
            name, relevant, value, ok, required_empty = row.split("\t")
            outcomes[name] = Outcome(relevant == "1", value, ok == "1", required_empty == "1")
        results[sc.id] = outcomes
    return results
