"""fieldkit records list | show | discard, through the real CLI on a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldkit.cli import app
from fieldkit.store import create_workspace, open_workspace

PASS = "amber-kettle-orbit-71"
V = "3"
SECRET = "Amina-Wanjiru-0722"
FORM = {
    "type": "survey",
    "name": "data",
    "title": "Screening",
    "id_string": "screening",
    "version": V,
    "children": [
        {"type": "text", "name": "site", "label": "Site"},
        {"type": "text", "name": "full_name", "label": "Name", "sensitive": "yes"},
        {
            "type": "repeat",
            "name": "contact",
            "children": [{"type": "text", "name": "phone", "sensitive": "1"}],
        },
    ],
}


def _run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=input)


@pytest.fixture
def ids(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A workspace with a draft, a finalized record and its edit."""
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "0")
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    ws, _ = create_workspace(home, passphrase=PASS)
    with ws:
        ws.forms.add(FORM)
        answers = {
            "/data/site": "KE-0101",
            "/data/full_name": SECRET,
            "/data/contact[1]/phone": SECRET + "-phone",
        }
        draft = ws.records.create_draft(form_id="screening", form_version=V)
        ws.records.save_answers(draft.id, answers)
        final = ws.records.create_draft(form_id="screening", form_version=V, case_id="case-9")
        ws.records.finalize(final.id, answers=answers)
        edit = ws.records.replace(final.id)
    return {"draft": draft.id, "final": final.id, "edit": edit.id}


def test_list_json(ids: dict[str, str]) -> None:
    result = _run("records", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [ids["draft"], ids["final"], ids["edit"]]
    for row in rows:
        assert {"id", "form_id", "form_version", "status", "replaces", "updated_at"} <= set(row)
    assert rows[1]["status"] == "finalized" and rows[2]["replaces"] == ids["final"]
    assert SECRET not in result.stdout
    finalized = json.loads(_run("records", "list", "--json", "--status", "finalized").stdout)
    assert [r["id"] for r in finalized] == [ids["final"]]
    assert json.loads(_run("records", "list", "--json", "--form", "other").stdout) == []


def test_list_table_names_records_by_codes_only(
    ids: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = _run("records", "list")
    assert result.exit_code == 0, result.output
    assert "site=KE-0101" in result.stdout
    assert "3 answers" in result.stdout
    # Neither sensitive answers nor any other answer text reach the list, masked or not.
    assert SECRET not in result.stdout
    assert "full_name" not in result.stdout and "phone" not in result.stdout


@pytest.mark.parametrize("columns", [80, 120])
def test_list_never_cuts_an_id_a_user_types(
    ids: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    """Each record's id (a prefix unique in the workspace), its form id and version are whole
    on one line, at 80 and at 120 columns; `records show` takes the prefix as listed."""
    long_form = {**FORM, "id_string": "needs_assessment_coast_2026", "title": "Long"}
    with open_workspace(home, passphrase=PASS) as ws:
        ws.forms.add(long_form)
        ws.records.create_draft(form_id="needs_assessment_coast_2026", form_version=V)
    monkeypatch.setenv("COLUMNS", str(columns))
    result = _run("records", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= columns for line in lines), lines
    listed = json.loads(_run("records", "list", "--json").stdout)
    assert len(listed) == 4
    for row in listed:
        short = row["id"][:8]
        line = next(line for line in lines if short in line.split())
        assert row["form_id"] in line.split() and row["form_version"] in line.split(), line
        shown = _run("records", "show", short, "--json")
        assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == row["id"]
    edit = next(line for line in lines if ids["edit"][:8] in line.split())
    assert ids["final"][:8] in edit.split()  # what it replaces, by the same short id


def test_a_prefix_two_ids_share_is_refused_and_lists_show_longer_ones(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fieldkit.store.records as store_records

    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "0")
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    monkeypatch.setenv("COLUMNS", "120")
    twins = iter(["4f3a9c21-0000-4000-8000-000000000001", "4f3a9c21-5555-4000-8000-000000000002"])
    monkeypatch.setattr(store_records, "_uuid4", lambda: next(twins))
    ws, _ = create_workspace(home, passphrase=PASS)
    with ws:
        ws.forms.add(FORM)
        for _ in range(2):
            ws.records.create_draft(form_id="screening", form_version=V)
    out = _run("records", "list").stdout
    # Eight characters would be the same for both: each is shown as far as it differs.
    assert "4f3a9c21-0 " in out and "4f3a9c21-5 " in out
    for command in (("records", "show"), ("records", "discard", "--yes")):
        refused = _run(*command, "4f3a9c")
        assert refused.exit_code == 2, refused.output
        assert refused.stderr == "Error: 2 records start with 4f3a9c: type more of the id\n"
    assert _run("records", "show", "4f3a9c21-5").exit_code == 0
    assert _run("records", "discard", "--yes", "4f3a9c21-0").exit_code == 0
    short = _run("records", "show", "4f3")
    assert short.exit_code == 2 and "at least 4 characters" in short.stderr


def test_show_masks_unless_revealed(
    ids: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    shown = _run("records", "show", ids["final"])
    assert shown.exit_code == 0, shown.output
    assert "KE-0101" in shown.stdout and SECRET not in shown.stdout
    as_json = json.loads(_run("records", "show", ids["final"], "--json").stdout)
    assert as_json["answers"]["/data/full_name"] == "•••"
    assert as_json["answers"]["/data/contact[1]/phone"] == "•••"
    assert as_json["answers"]["/data/site"] == "KE-0101"
    revealed = json.loads(_run("records", "show", ids["final"], "--json", "--reveal").stdout)
    assert revealed["answers"]["/data/full_name"] == SECRET
    with open_workspace(home, passphrase=PASS) as ws:
        assert [e.action for e in ws.audit.entries(record_id=ids["final"])][-1] == "reveal"


def test_answers_of_an_unknown_form_are_all_masked(ids: dict[str, str], home: Path) -> None:
    with open_workspace(home, passphrase=PASS) as ws:
        ws.records.import_received(
            record_id="from-afar",
            form_id="unknown",
            form_version="1",
            answers={"/data/anything": SECRET},
            device="dev-2",
            capture_day="2024-01-01",
            finalized_at="2024-01-01T00:00:00.000Z",
        )
    shown = _run("records", "show", "from-afar", "--json")
    assert json.loads(shown.stdout)["answers"] == {"/data/anything": "•••"}


def test_show_unknown_record(ids: dict[str, str]) -> None:
    result = _run("records", "show", "nope")
    assert result.exit_code == 1
    assert result.stderr == "Error: no record nope in this workspace\n"


def test_discard(ids: dict[str, str]) -> None:
    refused = _run("records", "discard", ids["draft"], input="n\n")
    assert refused.exit_code == 2
    done = _run("records", "discard", ids["draft"], "--yes", "--json")
    assert done.exit_code == 0 and json.loads(done.stdout) == {"discarded": ids["draft"]}
    assert _run("records", "show", ids["draft"]).exit_code == 1
    final = _run("records", "discard", ids["final"], "--yes")
    assert final.exit_code == 1
    assert "cannot change" in final.stderr


def test_bad_status(ids: dict[str, str]) -> None:
    result = _run("records", "list", "--status", "lost")
    assert result.exit_code == 1 and "unknown status" in result.stderr


def test_empty_workspace(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "0")
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    create_workspace(home, passphrase=PASS)[0].close()
    assert json.loads(_run("records", "list", "--json").stdout) == []
    assert "No records." in _run("records", "list").stdout


def test_every_records_command_has_help() -> None:
    for name in ("list", "show", "discard"):
        result = _run("records", name, "--help")
        assert result.exit_code == 0 and len(result.stdout) > 40
