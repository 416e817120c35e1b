"""Consent scopes through the CLI (DOMAIN §8): every bundled form and a form of our own.

One person's consent agrees to answering, keeping the answers, sharing with three partners and
statistics, but not to being contacted again. Each form asks for what it needs on its settings
sheet (``consent_scopes``); the latest finalized consent of the case decides, at the start and
at finalize, and an agency must be among the partners unless a legal basis is recorded.
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from consent_answers import consent as consent_answers
from typer.testing import CliRunner, Result

from fieldkit.cli import app
from fieldkit.demo import synthetic_answers
from fieldkit.store import create_workspace, open_workspace

PASSPHRASE = "consent scope tests correct horse"
OWN_FORM = """\
| survey |
| | type | name | label | required |
| | text | client_pseudonym | Case code | yes |
| | select_one partner | agency | Which agency calls back? | yes |
| | select_one basis | basis | Legal basis without consent | yes |

| choices |
| | list_name | name | label |
| | partner | legal_aid | Legal aid clinic |
| | partner | police_atu | Police anti-trafficking unit |
| | basis | none | None |
| | basis | imminent_danger | Immediate danger to life |

| settings |
| | form_id | version | consent_scopes | consent_override |
| | callback | 1 | interview store share(agency) | basis |
"""


@pytest.fixture
def ws_home(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    ws.close()
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("COLUMNS", "120")
    for name in ("consent", "adult_screening", "youth_screening", "referral", "follow_up"):
        assert run("forms", "add", name).exit_code == 0
    own = tmp_path / "callback.md"
    own.write_text(OWN_FORM, encoding="utf-8")
    assert run("forms", "add", str(own)).exit_code == 0
    return home


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def answers_file(tmp_path: Path, data: dict[str, Any], name: str = "answers.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def consent(ws_home: Path, tmp_path: Path, **changes: Any) -> str:
    """Record a consent through the CLI; the case code fieldkit made and printed."""
    data = consent_answers(**changes)
    done = run("capture", "consent", "--answers", answers_file(tmp_path, data, "consent.json"))
    assert done.exit_code == 0, done.output
    code = done.output.split("(case code ", 1)[1].split(")", 1)[0]
    return code


def filled(ws_home: Path, form_id: str, fixed: dict[str, str]) -> dict[str, str]:
    """A complete, plausible set of answers for a bundled form, with ``fixed`` ones."""
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        form = ws.forms.get(form_id).form()
    known = {k: v for k, v in fixed.items() if form.named(k)}
    data = synthetic_answers(form, rng=random.Random(12), fixed=known, today=date.today())
    return {**data, **known}


def capture(ws_home: Path, tmp_path: Path, form_id: str, data: dict[str, Any]) -> Result:
    return run("capture", form_id, "--answers", answers_file(tmp_path, data, f"{form_id}.json"))


def finalized(ws_home: Path, form_id: str) -> int:
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        return len([r for r in ws.records.list(form_id=form_id) if r.status != "draft"])


def one_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_each_bundled_form_is_held_to_the_scopes_it_declares(ws_home: Path, tmp_path: Path) -> None:
    code = consent(ws_home, tmp_path)
    person = {"client_pseudonym": code, "age_band": "30_38", "sex": "female"}
    # The screenings need answering and keeping: given.
    adult = capture(
        ws_home, tmp_path, "adult_screening", filled(ws_home, "adult_screening", person)
    )
    assert adult.exit_code == 0, adult.output
    youth = capture(
        ws_home, tmp_path, "youth_screening", filled(ws_home, "youth_screening", person)
    )
    assert youth.exit_code == 0, youth.output
    # A follow-up visit contacts the person again: not agreed to.
    refused = one_error(
        capture(ws_home, tmp_path, "follow_up", filled(ws_home, "follow_up", person))
    )
    assert "does not include being contacted again" in refused
    assert code not in refused
    assert finalized(ws_home, "follow_up") == 0
    # The interview refuses at the start too: before any question about the person.
    started = run("capture", "follow_up", input=f"{code}\n:q\n")
    assert "does not cover what this form needs: the latest consent of this case does not " \
        "include being contacted again" in " ".join(started.output.split())  # fmt: skip
    assert "Question 1 ·" not in started.output.split(code)[-1]


@pytest.mark.parametrize(
    ("agency", "basis", "allowed"),
    [
        ("legal_aid", None, True),  # listed in the consent
        ("police_atu", None, False),  # not listed, even with the worker's own "yes"
        ("police_atu", "imminent_danger", True),  # a legal basis recorded
    ],
)
def test_a_referral_goes_only_to_a_consented_agency_or_on_a_legal_basis(
    ws_home: Path, tmp_path: Path, agency: str, basis: str | None, allowed: bool
) -> None:
    code = consent(ws_home, tmp_path)
    fixed = {"client_pseudonym": code, "age_band": "30_38", "receiving_agency": agency,
             "urgency": "urgent", "referral_status": "pending", "send_now": "yes"}  # fmt: skip
    if basis is None:
        fixed["share_consent"] = "yes"
    else:
        fixed.update(share_consent="no", legal_basis=basis, legal_basis_approved_by="supervisor")
    result = capture(ws_home, tmp_path, "referral", filled(ws_home, "referral", fixed))
    if allowed:
        assert result.exit_code == 0, result.output
        with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
            (record,) = ws.records.list(form_id="referral")
            assert record.answers["/data/permission/can_send"] == "yes"
    else:
        line = one_error(result)
        assert "does not list the agency 'police_atu' (receiving_agency)" in line
        assert "no legal basis is recorded (legal_basis)" in line
        assert finalized(ws_home, "referral") == 0


def test_the_latest_consent_of_the_case_decides(ws_home: Path, tmp_path: Path) -> None:
    code = consent(ws_home, tmp_path)
    person = {"client_pseudonym": code, "age_band": "30_38", "sex": "female"}
    data = filled(ws_home, "follow_up", person)
    assert capture(ws_home, tmp_path, "follow_up", data).exit_code == 1
    # Later the person agrees to be contacted: a new consent with the same case code.
    again = consent(ws_home, tmp_path, client_pseudonym=code, consent_contact="yes",
                    contact_method="in_person_at_service", contact_times=["weekend"])  # fmt: skip
    assert again == code
    assert capture(ws_home, tmp_path, "follow_up", data).exit_code == 0
    # And later still, no more sharing: the referral to a listed partner is refused now.
    consent(ws_home, tmp_path, client_pseudonym=code, consent_share="no", share_partners=None)
    fixed = {**person, "receiving_agency": "legal_aid", "share_consent": "yes",
             "urgency": "urgent", "referral_status": "pending"}  # fmt: skip
    line = one_error(capture(ws_home, tmp_path, "referral", filled(ws_home, "referral", fixed)))
    assert "does not include sharing with a named partner" in line


def test_a_form_of_our_own_declares_its_scopes(ws_home: Path, tmp_path: Path) -> None:
    code = consent(ws_home, tmp_path)
    ok = capture(ws_home, tmp_path, "callback",
                 {"client_pseudonym": code, "agency": "legal_aid", "basis": "none"})  # fmt: skip
    assert ok.exit_code == 0, ok.output
    police = {"client_pseudonym": code, "agency": "police_atu", "basis": "none"}
    line = one_error(capture(ws_home, tmp_path, "callback", police))
    assert "does not list the agency 'police_atu' (agency)" in line
    assert "no legal basis is recorded (basis)" in line
    police["basis"] = "imminent_danger"
    assert capture(ws_home, tmp_path, "callback", police).exit_code == 0
    # Interactively: the agency is checked as soon as it is chosen.
    result = run("capture", "callback", input=f"{code}\n2\n:q\n")
    said = " ".join(result.output.split())
    # Partners this form does not offer are named by their choice names.
    assert (
        "does not list this agency (it lists: ngo_shelter, health_centre, Legal aid clinic)" in said
    )
    assert "finalized only with a legal basis recorded" in said


def test_a_form_whose_scopes_cannot_be_read_does_not_run(ws_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(OWN_FORM.replace("share(agency)", "sharing").replace("callback", "bad"),
                   encoding="utf-8")  # fmt: skip
    assert run("forms", "add", str(bad)).exit_code == 0
    line = one_error(run("capture", "bad", input=""))
    assert "consent_scopes names an unknown scope 'sharing'" in line
    typo = tmp_path / "typo.md"
    typo.write_text(OWN_FORM.replace("share(agency)", "share(agencyy)").replace("callback", "typo"),
                    encoding="utf-8")  # fmt: skip
    assert run("forms", "add", str(typo)).exit_code == 0
    assert "names no question 'agencyy'" in one_error(run("capture", "typo", input=""))
