"""`fieldkit export` and `fieldkit report` through the real CLI, on a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from _analysis_kit import FORMS, PASSPHRASE, definition, receive
from typer.testing import CliRunner

from fieldkit.cli import app
from fieldkit.store import create_workspace


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed workspace with two versions of the household form and three records (the
    commands only read it, so the tests of this module share it)."""
    path = tmp_path_factory.mktemp("cli") / "home"
    ws, _ = create_workspace(path, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(definition(FORMS / "household_v1.md"))
        ws.forms.add(definition(FORMS / "household_v2.md"))
        for n, day in enumerate(("2026-03-01", "2026-03-02", "2026-03-03")):
            receive(
                ws,
                "household",
                {
                    "/data/full_name": "Secret Canary",
                    "/data/age": str(20 + n),
                    "/data/signs": "debt",
                    "/data/household/member[1]/m_age": "3",
                },
                version="2",
                day=day,
            )
    return path


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["--home", str(home), *args], env={"FIELDKIT_PASSPHRASE": PASSPHRASE}
    )
    return result.exit_code, result.stdout, result.stderr


def test_export_csv(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run(home, "export", "--form", "household", "--format", "csv",
                               "--out", str(out))  # fmt: skip
    assert code == 0, stderr
    assert "3 table(s), 6 row(s)" in stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "household-member.csv",
        "household-visit.csv",
        "household.codebook.csv",
        "household.csv",
        "household.manifest.json",
    ]
    frame = pd.read_csv(out / "household.csv", encoding="utf-8-sig")
    assert list(frame["age"]) == [20, 21, 22]
    assert "full_name" not in frame.columns
    assert "Canary" not in (out / "household.csv").read_text(encoding="utf-8-sig")


def test_export_options(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "x"
    code, _, stderr = run(home, "export", "--form", "household", "--format", "xlsx", "--out",
                          str(out), "--headers", "labels", "--lang", "fr", "--select-multiple",
                          "details", "--include-sensitive", "full_name", "--since",
                          "2026-03-02")  # fmt: skip
    assert code == 0, stderr
    sheet = pd.read_excel(out / "household.xlsx", sheet_name="household")
    assert list(sheet["Nom"]) == ["Secret Canary", "Secret Canary"]
    assert "Signes/Dette" in sheet.columns and "Signes" not in sheet.columns


def test_export_parquet_with_history(home: Path, tmp_path: Path) -> None:
    code, _, stderr = run(home, "export", "--form", "household", "--format", "parquet",
                          "--out", str(tmp_path), "--history")  # fmt: skip
    assert code == 0, stderr
    assert list(pd.read_parquet(tmp_path / "household.parquet")["_latest"]) == [True] * 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "ods"], "--format must be csv, xlsx or parquet"),
        (["--format", "csv", "--since", "March"], "--since must be a date"),
        (["--format", "csv", "--headers", "titles"], "--headers must be names or labels"),
        (["--format", "csv", "--include-sensitive", "age"], "no sensitive field named age"),
    ],
)
def test_export_usage_errors(home: Path, tmp_path: Path, args: list[str], message: str) -> None:
    code, _, stderr = run(home, "export", "--form", "household", "--out", str(tmp_path), *args)
    assert code in (1, 2)
    assert stderr.startswith("Error: ") and message in stderr
    assert "Traceback" not in stderr


def test_export_unknown_form(home: Path, tmp_path: Path) -> None:
    code, _, stderr = run(home, "export", "--form", "nope", "--format", "csv", "--out",
                          str(tmp_path))  # fmt: skip
    assert code == 1
    assert "nope" in stderr and stderr.count("\n") == 1


def test_report_html_and_json(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, stdout, stderr = run(home, "report", "--out", str(out))
    assert code == 0, stderr
    assert "Report written" in stdout
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Canary" not in page
    code, stdout, stderr = run(home, "report", "--json", "--min-cell", "5", "--from",
                               "2026-01-01", "--to", "2026-12-31")  # fmt: skip
    assert code == 0, stderr
    figures = json.loads(stdout)
    assert figures["min_cell"] == 5
    assert figures["period"] == {"from": "2026-01-01", "to": "2026-12-31"}
    assert {i["key"] for i in figures["indicators"]} >= {"people_screened", "referrals_made"}
    code, _, stderr = run(home, "report")
    assert code == 2 and "--out is required" in stderr


@pytest.mark.parametrize("command", ["export", "report"])
def test_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "--out" in result.stdout


def test_export_refuses_to_overwrite_then_overwrites(home: Path, tmp_path: Path) -> None:
    args = ["export", "--form", "household", "--format", "csv", "--out", str(tmp_path)]
    assert run(home, *args)[0] == 0
    code, _, stderr = run(home, *args)
    assert code == 1 and stderr.startswith("Error: ") and "--overwrite" in stderr
    assert "Traceback" not in stderr
    code, stdout, stderr = run(home, *args, "--overwrite", "--values", "labels", "--no-neutralise")
    assert code == 0, stderr
    assert "household.manifest.json" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--values", "codes"], "--values must be names or labels"),
        (["--codes", "iso"], "--codes must be none or ctdc"),
        (["--hxl"], "no hxl column"),
    ],
)
def test_export_new_option_errors(
    home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, stderr = run(home, "export", "--form", "household", "--format", "csv", "--out",
                          str(tmp_path), *args)  # fmt: skip
    assert code == 2 and stderr.startswith("Error: ") and message in stderr


def test_report_title_and_language(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code, _, stderr = run(home, "report", "--out", str(out), "--lang", "fr",
                          "--programme", "Programme côte", "--organisation", "ONG")  # fmt: skip
    assert code == 0, stderr
    page = out.read_text(encoding="utf-8")
    assert "<h1>Programme côte</h1>" in page and "Synthèse" in page and "ONG" in page
    code, _, stderr = run(home, "report", "--json", "--lang", "de")
    assert code == 2 and "--lang must be one of en, fr" in stderr
