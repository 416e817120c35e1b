"""``fieldkit cases``: a social worker follows a person from consent to closure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cases_kit import add_forms, person
from typer.testing import CliRunner, Result

from fieldkit.cli import app
from fieldkit.store import create_workspace, open_workspace

PASSPHRASE = "cases command tests correct horse"
MARKER = "+254711999888"  # the person's phone number: sensitive, never listed


@pytest.fixture
def case(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        add_forms(ws)
        code, _ = person(ws, day="2026-01-15", marker=MARKER)
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("COLUMNS", "150")
    return code


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def one_error(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_from_consent_to_closure(case: str, home: Path) -> None:
    listed = run("cases", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert row["case"] == case and row["status"] == "open"
    assert "overdue" in row["flags"]  # the referral's reply was due on 2026-01-15
    assert MARKER not in listed.output and "legal_aid" not in listed.output

    shown = run("cases", "show", case, "--json")
    view = json.loads(shown.output)
    assert [c["scopes"] for c in view["consents"]] == [
        ["interview", "store", "contact", "share", "statistics"]
    ]
    assert view["screenings"][0]["result"] == "positive"
    assert MARKER not in shown.output  # masked
    (referral,) = view["referrals"]
    rid = referral["id"]

    steps = [("accepted", "2026-01-18"), ("in_progress", "2026-01-22"), ("done", "2026-03-01")]
    for status, day in steps:
        moved = run("cases", "update", case, "--referral", rid, "--status", status, "--date", day)
        assert moved.exit_code == 0, moved.output
        assert f"Referral {rid} of case {case}: {status} on {day}." in moved.output
    done = run("cases", "update", case, "--follow-up", "1", "--status", "done", "--date",
               "2026-02-20")  # fmt: skip
    assert done.exit_code == 0, done.output

    text = run("cases", "show", case)
    assert text.exit_code == 0, text.output
    out = text.output
    assert f"Case {case}: open" in out
    assert "first service: 2026-01-22" in out
    assert "pending 2026-01-15, accepted 2026-01-18, in_progress 2026-01-22, done 2026-03-01" in out
    assert "1-month follow-up done" in out and "3-month follow-up" in out
    assert "contact_detail: •••" in out and MARKER not in out

    revealed = run("cases", "show", case, "--reveal")
    assert MARKER in revealed.output
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        assert any(e.action == "reveal" for e in ws.audit.entries())

    closed = run("cases", "close", case, "--date", "2026-12-01")
    assert closed.exit_code == 0 and f"Case {case} closed on 2026-12-01." in closed.output
    assert json.loads(run("cases", "list", "--due", "--json").output) == []
    (row,) = json.loads(run("cases", "list", "--json").output)
    assert row["status"] == "closed" and row["next_due"] is None
    assert "No cases due." in run("cases", "list", "--due").output
    reopened = run("cases", "reopen", case)
    assert reopened.exit_code == 0, reopened.output
    assert case in run("cases", "list", "--due").output
    assert "No conflicts." in run("cases", "conflicts").output
    assert json.loads(run("cases", "conflicts", "--json").output) == []
    mine = json.loads(run("cases", "list", "--mine", "--json").output)
    assert [r["case"] for r in mine] == [case]


def test_bad_input_is_one_line_and_changes_nothing(case: str, home: Path) -> None:
    rid = json.loads(run("cases", "show", case, "--json").output)["referrals"][0]["id"]
    assert "it can become accepted or rejected" in one_error(
        run("cases", "update", case, "--referral", rid, "--status", "done")
    )
    assert "--status must be one of" in one_error(
        run("cases", "update", case, "--referral", rid, "--status", "finished"), 2
    )
    assert "either --referral" in one_error(run("cases", "update", case), 2)
    assert "YYYY-MM-DD" in one_error(
        run("cases", "update", case, "--referral", rid, "--status", "accepted", "--date", "soon"),
        2,
    )
    assert "not in conflict" in one_error(
        run("cases", "resolve", case, f"referral/{rid}/status", "--take", "accepted")
    )
    typo = case[:-1] + ("0" if case[-1] != "0" else "1")
    error = one_error(run("cases", "show", typo))
    assert "did you mean" in error
    assert "is open" in one_error(run("cases", "reopen", case))
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        assert ws.records.list(form_id="fieldkit.case_event") == []
