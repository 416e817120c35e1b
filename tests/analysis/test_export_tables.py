"""Linked export tables from a real workspace, checked against tables written out by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from _analysis_kit import FORMS, definition, receive

from fieldkit.analysis import ExportOptions, tables
from fieldkit.analysis.tables import build_tables, form_versions
from fieldkit.errors import FormNotFound, UsageError
from fieldkit.store import Workspace

META = [
    "_id",
    "_form_version",
    "_device",
    "_capture_day",
    "_finalized_at",
    "_received_at",
    "_replaces",
    "_status",
    "_case_id",
    "_key",
]


def rows(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """A frame as plain dicts, blanks as None, numbers as Python numbers."""
    out = []
    for record in frame[columns or list(frame.columns)].to_dict("records"):
        out.append(
            {
                k: (None if v is None or (not isinstance(v, list) and pd.isna(v)) else v)
                for k, v in record.items()
            }
        )
    return out


@pytest.fixture
def household(ws: Workspace) -> dict[str, str]:
    """Two versions of a form with groups, nested repeats, select_multiple, two languages."""
    ws.forms.add(definition(FORMS / "household_v1.md"))
    ws.forms.add(definition(FORMS / "household_v2.md"))
    ids = {}
    ids["r1"] = receive(
        ws,
        "household",
        {
            "/data/header/site": "KE-0101",
            "/data/client_pseudonym": "AB-1001",
            "/data/full_name": "Alice Canary",
            "/data/age": "34",
            "/data/code": "7",
            "/data/old_q": "only in v1",
            "/data/signs": "debt papers",
            "/data/home": "1.5 -2.25 10 5",
            "/data/household/member[1]/m_age": "40",
            "/data/household/member[1]/visit[1]/v_date": "2026-02-01",
            "/data/household/member[1]/visit[2]/v_date": "2026-02-15",
            "/data/household/member[2]/m_age": "9",
        },
        version="1",
        day="2026-03-01",
    )
    ids["r2"] = receive(
        ws,
        "household",
        {
            "/data/header/site": "KE-0102",
            "/data/client_pseudonym": "AB-1002",
            "/data/full_name": "",
            "/data/age": "",
            "/data/code": "A-7",
            "/data/signs": "",
            "/data/home": "",
            "/data/household/member[1]/m_age": "30",
            "/data/household/member[1]/visit[1]/v_date": "",
            "/data/remarks": "=1+2",
        },
        version="2",
        day="2026-03-02",
    )
    ids["r3"] = receive(
        ws,
        "household",
        {
            "/data/header/site": "KE-0101",
            "/data/client_pseudonym": "AB-1001",
            "/data/age": "50",
            "/data/code": "0012",
            "/data/signs": "threats",
            "/data/remarks": "",
        },
        version="2",
        day="2026-03-03",
    )
    return ids


def test_form_table_by_hand(ws: Workspace, household: dict[str, str]) -> None:
    out = tables(ws, "household")
    assert list(out) == ["household", "member", "visit"]
    form = out["household"]
    assert list(form.columns) == [
        "site",
        "client_pseudonym",
        "age",
        "code",
        "signs",
        "signs/debt",
        "signs/papers",
        "signs/threats",
        "remarks",
        "instanceID",
        "deprecatedID",  # ODK's meta/deprecatedID, set on an edit
        "old_q",  # only version 1 has it: after the latest version's columns
        *META,
        "_possible_duplicate",
        "_duplicate_group",
        "_index",
    ]
    r1, r2, r3 = household["r1"], household["r2"], household["r3"]
    questions = ["site", "client_pseudonym", "age", "code", "signs"]
    assert rows(form, questions) == [
        {"site": "KE-0101", "client_pseudonym": "AB-1001", "age": 34, "code": "7",
         "signs": "debt papers"},
        {"site": "KE-0102", "client_pseudonym": "AB-1002", "age": None, "code": "A-7",
         "signs": None},
        {"site": "KE-0101", "client_pseudonym": "AB-1001", "age": 50, "code": "0012",
         "signs": "threats"},
    ]  # fmt: skip
    # One 0/1 column per choice of every version; blank (not 0) when unanswered.
    assert rows(form, ["signs/debt", "signs/papers", "signs/threats"]) == [
        {"signs/debt": 1, "signs/papers": 1, "signs/threats": 0},
        {"signs/debt": None, "signs/papers": None, "signs/threats": None},
        {"signs/debt": 0, "signs/papers": 0, "signs/threats": 1},
    ]
    assert list(form["old_q"].fillna("-")) == ["only in v1", "-", "-"]
    assert rows(form, ["remarks", "_id", "_form_version", "_key", "_index"]) == [
        {"remarks": None, "_id": r1, "_form_version": "1", "_key": r1, "_index": 1},
        {"remarks": "=1+2", "_id": r2, "_form_version": "2", "_key": r2, "_index": 2},
        {"remarks": None, "_id": r3, "_form_version": "2", "_key": r3, "_index": 3},
    ]  # fmt: skip
    # Days and times are typed: a day is a date, a time is in UTC.
    assert list(form["_capture_day"]) == [pd.Timestamp("2026-03-01"), pd.Timestamp("2026-03-02"),
                                          pd.Timestamp("2026-03-03")]  # fmt: skip
    assert form["_finalized_at"].iloc[0] == pd.Timestamp("2026-03-01T10:00:00Z")
    assert rows(form, ["_device", "_received_at", "_replaces", "_status"])[0] == {
        "_device": "dev-7f3a",
        "_received_at": None,
        "_replaces": None,
        "_status": "finalized",
    }
    # r1 and r3 share a client code: flagged as one group, both rows kept.
    assert rows(form, ["_possible_duplicate", "_duplicate_group"]) == [
        {"_possible_duplicate": True, "_duplicate_group": 1},
        {"_possible_duplicate": False, "_duplicate_group": None},
        {"_possible_duplicate": True, "_duplicate_group": 1},
    ]
    # integer in both versions stays a number; integer in v1 but text in v2 stays text.
    assert str(form["age"].dtype) == "Int64"
    assert pd.api.types.is_string_dtype(form["code"].dtype)
    assert str(form["signs/debt"].dtype) == "Int64"


def test_repeat_tables_link_to_parents(ws: Workspace, household: dict[str, str]) -> None:
    out = tables(ws, "household")
    r1, r2 = household["r1"], household["r2"]
    assert rows(out["member"]) == [
        {"m_age": 40, "_index": 1, "_parent_index": 1, "_parent_table": "household",
         "_record_id": r1, "_key": f"{r1}/household/member[1]", "_parent_key": r1},
        {"m_age": 9, "_index": 2, "_parent_index": 1, "_parent_table": "household",
         "_record_id": r1, "_key": f"{r1}/household/member[2]", "_parent_key": r1},
        {"m_age": 30, "_index": 3, "_parent_index": 2, "_parent_table": "household",
         "_record_id": r2, "_key": f"{r2}/household/member[1]", "_parent_key": r2},
    ]  # fmt: skip
    # Nested repeat: parents are member rows, by stable key too. r2's visit was left empty:
    # a repeat instance with no answer is no row (Kobo and ODK submissions have none).
    assert rows(out["visit"]) == [
        {"v_date": pd.Timestamp("2026-02-01"), "_index": 1, "_parent_index": 1,
         "_parent_table": "member", "_record_id": r1,
         "_key": f"{r1}/household/member[1]/visit[1]",
         "_parent_key": f"{r1}/household/member[1]"},
        {"v_date": pd.Timestamp("2026-02-15"), "_index": 2, "_parent_index": 1,
         "_parent_table": "member", "_record_id": r1,
         "_key": f"{r1}/household/member[1]/visit[2]",
         "_parent_key": f"{r1}/household/member[1]"},
    ]  # fmt: skip


def test_select_multiple_modes(ws: Workspace, household: dict[str, str]) -> None:
    summary = tables(ws, "household", ExportOptions(select_multiple="summary"))["household"]
    assert "signs" in summary.columns
    assert not [c for c in summary.columns if c.startswith("signs/")]
    details = tables(ws, "household", ExportOptions(select_multiple="details"))["household"]
    assert "signs" not in details.columns
    assert [c for c in details.columns if c.startswith("signs/")] == [
        "signs/debt",
        "signs/papers",
        "signs/threats",
    ]
    with pytest.raises(UsageError):
        tables(ws, "household", ExportOptions(select_multiple="all"))  # type: ignore[arg-type]


def test_sensitive_fields_left_out_unless_named(ws: Workspace, household: dict[str, str]) -> None:
    default = tables(ws, "household")["household"]
    assert "full_name" not in default.columns
    assert not [c for c in default.columns if c.startswith("home")]
    assert "Alice Canary" not in default.to_csv()
    named = tables(ws, "household", ExportOptions(include_sensitive=["full_name", "home"]))[
        "household"
    ]
    assert rows(named, ["full_name"])[0] == {"full_name": "Alice Canary"}
    # geopoint "lat lon alt acc" → four decimal columns.
    assert rows(named, ["home_latitude", "home_longitude", "home_altitude", "home_precision"]) == [
        {"home_latitude": 1.5, "home_longitude": -2.25, "home_altitude": 10.0,
         "home_precision": 5.0},
        {"home_latitude": None, "home_longitude": None, "home_altitude": None,
         "home_precision": None},
        {"home_latitude": None, "home_longitude": None, "home_altitude": None,
         "home_precision": None},
    ]  # fmt: skip
    with pytest.raises(UsageError, match="no sensitive field named age"):
        tables(ws, "household", ExportOptions(include_sensitive=["age"]))


def test_label_headers_in_a_chosen_language(ws: Workspace, household: dict[str, str]) -> None:
    french = tables(ws, "household", ExportOptions(headers="labels", lang="fr"))
    assert list(french["household"].columns[:9]) == [
        "Site",
        "Code",
        "Âge",
        "Numéro",
        "Signes",
        "Signes/Dette",
        "Signes/Papiers retenus",
        "Signes/Menaces",
        "Remarques",
    ]
    assert list(french["member"].columns[:1]) == ["Âge du membre"]
    english = tables(ws, "household", ExportOptions(headers="labels", lang="English (en)"))
    assert english["household"].columns[2] == "Age"
    with pytest.raises(UsageError, match="no language de"):
        tables(ws, "household", ExportOptions(headers="labels", lang="de"))


def test_edits_show_the_latest_version_unless_history(
    ws: Workspace, household: dict[str, str]
) -> None:
    r2 = household["r2"]
    first_edit = receive(
        ws, "household", {"/data/client_pseudonym": "AB-1002", "/data/age": "31"},
        version="2", day="2026-03-04", replaces=r2,
    )  # fmt: skip
    second_edit = receive(
        ws, "household", {"/data/client_pseudonym": "AB-1002", "/data/age": "32"},
        version="2", day="2026-03-05", replaces=first_edit,
    )  # fmt: skip
    current = tables(ws, "household")["household"]
    assert list(current["_id"]) == [household["r1"], household["r3"], second_edit]
    assert list(current["age"]) == [34, 50, 32]
    assert current["_replaces"].iloc[2] == first_edit
    # The edit of AB-1002 is not a duplicate of its own original.
    assert list(current["_possible_duplicate"]) == [True, True, False]
    everything = tables(ws, "household", ExportOptions(history=True))["household"]
    assert len(everything) == 5
    latest = dict(zip(everything["_id"], everything["_latest"], strict=True))
    assert latest == {
        household["r1"]: True,
        r2: False,
        household["r3"]: True,
        first_edit: False,
        second_edit: True,
    }
    # Repeat rows of replaced versions go with them.
    assert household["r2"] not in set(tables(ws, "household")["member"]["_record_id"])


def test_same_record_from_two_pulls_appears_once(ws: Workspace, household: dict[str, str]) -> None:
    versions = form_versions(ws, "household")
    records = ws.records.list(form_id="household")
    twice = records + ws.records.list(form_id="household")
    out = build_tables(versions, twice)
    assert sorted(out["household"]["_id"]) == sorted(household.values())
    assert len(out["member"]) == 3
    # And the store itself keeps one copy when the same record is imported again.
    receive(ws, "household", {"/data/age": "99"}, version="2", record_id=household["r3"])
    assert len(tables(ws, "household")["household"]) == 3


def test_configured_duplicate_keys(ws: Workspace, household: dict[str, str]) -> None:
    by_site = tables(ws, "household", ExportOptions(duplicate_keys=["site"]))["household"]
    assert list(by_site["_possible_duplicate"]) == [True, False, True]
    none = tables(ws, "household", ExportOptions(duplicate_keys=[]))["household"]
    assert "_possible_duplicate" not in none.columns
    with pytest.raises(UsageError, match="no top-level field named m_age"):
        tables(ws, "household", ExportOptions(duplicate_keys=["m_age"]))


def test_since_keeps_records_finalized_from_that_day(
    ws: Workspace, household: dict[str, str]
) -> None:
    out = tables(ws, "household", ExportOptions(since=date(2026, 3, 2)))
    assert list(out["household"]["_id"]) == [household["r2"], household["r3"]]
    assert list(out["member"]["_parent_index"]) == [1]
    assert list(out["visit"]["_parent_index"]) == []  # r2's only visit was left empty


def test_drafts_are_not_exported(ws: Workspace, household: dict[str, str]) -> None:
    draft = ws.records.create_draft(form_id="household", form_version="2")
    ws.records.save_answers(draft.id, {"/data/age": "77"})
    assert draft.id not in set(tables(ws, "household")["household"]["_id"])


def test_form_without_records_and_form_without_questions(ws: Workspace) -> None:
    ws.forms.add(definition(FORMS / "household_v2.md"))
    ws.forms.add(definition(FORMS / "empty.md"))
    out = tables(ws, "household")
    assert list(out) == ["household", "member", "visit"]
    assert all(len(frame) == 0 for frame in out.values())
    assert "signs/threats" in out["household"].columns
    assert str(out["household"]["age"].dtype) == "Int64"
    assert list(out["visit"].columns) == ["v_date", "_index", "_parent_index", "_parent_table",
                                          "_record_id", "_key", "_parent_key"]  # fmt: skip
    assert str(out["visit"]["v_date"].dtype).startswith("datetime64")
    receive(ws, "empty", {"/data/hello": ""}, version="1")
    empty = tables(ws, "empty")
    assert list(empty) == ["empty"]
    assert list(empty["empty"].columns) == ["instanceID", "deprecatedID", *META, "_index"]
    assert len(empty["empty"]) == 1
    with pytest.raises(FormNotFound):
        tables(ws, "no_such_form")


def test_every_exported_value_equals_the_captured_one(
    ws: Workspace, household: dict[str, str]
) -> None:
    """Round trip: each answer of each record is found, unchanged, in its table cell."""
    out = tables(
        ws, "household", ExportOptions(include_sensitive=["full_name"], select_multiple="summary")
    )
    form = out["household"].set_index("_id")
    member, visit = out["member"], out["visit"]
    names = {"/data/header/site": "site"}
    checked = 0
    for record in ws.records.list(form_id="household"):
        for path, text in record.answers.items():
            if path == "/data/home" or "/household/" in path:
                continue
            column = names.get(path, path.rsplit("/", 1)[1])
            cell = form.loc[record.id, column]
            assert (None if pd.isna(cell) else str(cell)) == (text or None), path
            checked += 1
    assert checked >= 15
    # Repeat cells: the n-th instance of a record is its n-th row in the table.
    ages = member[member["_record_id"] == household["r1"]]["m_age"].tolist()
    assert ages == [40, 9]
    dates = visit[visit["_parent_index"] == 1]["v_date"].tolist()
    assert dates == [pd.Timestamp("2026-02-01"), pd.Timestamp("2026-02-15")]


def test_repeat_of_sensitive_answers_keeps_its_rows(ws: Workspace) -> None:
    """A repeat whose only answers are left out still has its rows, so children still link."""
    ws.forms.add(definition(FORMS / "contacts.md"))
    rid = receive(
        ws,
        "contacts",
        {
            "/data/site": "KE-0101",
            "/data/contact[1]/phone": "+254 700 000 001",
            "/data/contact[2]/phone": "+254 700 000 002",
            "/data/contact[2]/call[1]/call_day": "2026-03-01",
        },
    )
    out = tables(ws, "contacts")
    assert list(out["contact"].columns) == [
        "_index",
        "_parent_index",
        "_parent_table",
        "_record_id",
        "_key",
        "_parent_key",
    ]
    assert rows(out["contact"], ["_index", "_parent_index", "_parent_table", "_record_id"]) == [
        {"_index": 1, "_parent_index": 1, "_parent_table": "contacts", "_record_id": rid},
        {"_index": 2, "_parent_index": 1, "_parent_table": "contacts", "_record_id": rid},
    ]
    assert rows(out["call"], ["call_day", "_parent_index", "_parent_table"]) == [
        {"call_day": pd.Timestamp("2026-03-01"), "_parent_index": 2, "_parent_table": "contact"}
    ]
    assert "700" not in out["contact"].to_csv()
    named = tables(ws, "contacts", ExportOptions(include_sensitive=["phone"]))
    assert list(named["contact"]["phone"]) == ["+254 700 000 001", "+254 700 000 002"]
