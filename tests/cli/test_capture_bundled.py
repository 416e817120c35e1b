"""The bundled forms through capture: consent first, then a consent-gated screening."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from consent_answers import consent
from typer.testing import CliRunner, Result

from fieldkit.cli import app
from fieldkit.store import create_workspace, open_workspace

PASSPHRASE = "bundled capture tests correct horse"


@pytest.fixture
def ws_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    ws.close()
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("COLUMNS", "120")
    for name in ("consent", "adult_screening"):
        assert run("forms", "add", name).exit_code == 0
    return home


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def test_consent_then_screening(ws_home: Path, tmp_path: Path) -> None:
    refused = run("capture", "adult_screening", input="")
    assert refused.exit_code == 1
    assert "fieldkit capture consent" in refused.output

    answers = tmp_path / "consent.json"
    data = consent(age_band="21_23", sex="male", citizenship="ET")
    answers.write_text(json.dumps(data), encoding="utf-8")
    result = run("capture", "consent", "--answers", str(answers))
    assert result.exit_code == 0, result.output
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        (record,) = ws.records.list(form_id="consent")
        assert record.answers["/data/consent_given"] == "yes"
        code = record.answers["/data/client_pseudonym"]
    # The code fieldkit made is printed: the worker writes it on the person's card.
    assert f"(case code {code})" in result.output

    # The screening asks the case first, then offers the consent's answers in one go.
    started = run("capture", "adult_screening", input=f"{code}\n\n:q\n")
    assert started.exit_code == 0, started.output
    out = started.output
    assert "Question 7 ·" in out.split("First the case code")[0]  # the case code question
    assert f"From the consent record of case {code} (2026-01-15):" in out
    for shown in ("Site code (district): KE-0101", "Sex: Male", "Citizenship: Ethiopia",
                  "Age group: 21 to 23 years", "Language of the interview: English"):  # fmt: skip
        assert shown in out
    assert "Question 1 ·" in out.split("From the consent record")[1]  # then the role
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        (draft,) = ws.records.list(form_id="adult_screening")
        assert draft.answers["/data/person/sex"] == "male"
        assert draft.answers["/data/header/site"] == "KE-0101"
        assert draft.answers["/data/header/interview_date"] == date.today().isoformat()


def test_bundled_consent_interactively_until_the_safety_check(ws_home: Path) -> None:
    # Header (role, site, date, language, interpreter, mode), the safety note, then the
    # safety check: "not private" stops the interview with the form's own note.
    script = "2\nKE-0101\ntoday\n1\n2\n1\n\n2\n"
    result = run("capture", "consent", input=script + ":review\n:q\n")
    assert result.exit_code == 0, result.output
    assert "Safety check" in result.output  # the group's label heads its questions
    assert "Not safe now. Do not go on." in result.output
