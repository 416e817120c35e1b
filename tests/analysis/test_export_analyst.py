"""What an analyst would trip on (issue 16): collisions, blank rows, keys, types, labels,
versions, geopoints, metadata, formula safety, XLSX layout, codebook, manifest, HXL, CTDC."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from _analysis_kit import BUNDLED, FORMS, PASSPHRASE, definition, receive

from fieldkit.analysis import ExportOptions, export_form, read_tables, tables
from fieldkit.errors import ExportError, UsageError
from fieldkit.store import Workspace

V1 = {
    "/data/site": "KE-0101",
    "/data/reached": "12",
    "/data/kind": "school",
    "/data/old_group/moved": "5",
    "/data/visit_day": "2026-03-01",
    "/data/seen_at": "2026-03-01T13:30:00.000+03:00",
    "/data/seen_time": "09:15:00.000+03:00",
    "/data/point": "-1.28 36.82",
    "/data/children[1]/c_age": "4",
}
V2 = {
    "/data/site": "KE-0102",
    "/data/reached": "30",
    "/data/kind": "market clinic",
    "/data/new_group/moved": "7",
    "/data/visit_day": "2026-03-02",
    "/data/seen_at": "2026-03-02T08:00:00.000Z",
    "/data/seen_time": "17:45:30.000+00:00",
    "/data/point": "-1.5 36.9 1700 5",
    # Left out: the one instance ODK starts with holds only empty answers.
    "/data/children[1]/c_age": "",
}


@pytest.fixture
def survey(ws: Workspace) -> dict[str, str]:
    ws.forms.add(definition(FORMS / "survey_v1.md"))
    ws.forms.add(definition(FORMS / "survey_v2.md"))
    return {
        "a": receive(ws, "survey", V1, version="1", day="2026-03-01",
                     received_at="2026-03-04T08:00:00.000Z"),
        "b": receive(ws, "survey", V2, version="2", day="2026-03-02"),
    }  # fmt: skip


def test_two_forms_with_one_repeat_name_never_collide(
    ws: Workspace, survey: dict[str, str], tmp_path: Path
) -> None:
    ws.forms.add(definition(FORMS / "kids.md"))
    receive(ws, "kids", {"/data/site": "X", "/data/children[1]/c_age": "9"})
    out = tmp_path / "exports"
    export_form(ws, "survey", fmt="csv", out_dir=out)
    export_form(ws, "kids", fmt="csv", out_dir=out)
    survey_kids = pd.read_csv(out / "survey-children.csv", encoding="utf-8-sig")
    kids_kids = pd.read_csv(out / "kids-children.csv", encoding="utf-8-sig")
    assert list(survey_kids["c_age"]) == [4]
    assert list(kids_kids["c_age"]) == [9]
    # A second export into the same folder is refused unless asked for, never silent.
    with pytest.raises(ExportError, match="pass --overwrite"):
        export_form(ws, "survey", fmt="csv", out_dir=out)
    export_form(ws, "survey", fmt="csv", out_dir=out, options=ExportOptions(overwrite=True))
    # A file another form's manifest lists is never replaced, even with overwrite.
    (out / "other.manifest.json").write_text(
        json.dumps({"form_id": "other", "files": ["survey.codebook.csv"]}), encoding="utf-8"
    )
    with pytest.raises(ExportError, match="belongs to the export of form other"):
        export_form(ws, "survey", fmt="csv", out_dir=out, options=ExportOptions(overwrite=True))


def test_absent_repeat_is_no_row_and_keys_are_stable(ws: Workspace, survey: dict[str, str]) -> None:
    first = tables(ws, "survey")
    assert list(first["children"]["_record_id"]) == [survey["a"]]
    key = first["children"]["_key"].iloc[0]
    assert key == f"{survey['a']}/children[1]"
    # A late sync brings a record captured earlier: _index renumbers, _key does not.
    late = receive(ws, "survey", {**V1, "/data/children[1]/c_age": "2"}, version="1",
                   day="2026-02-01")  # fmt: skip
    second = tables(ws, "survey")
    children = second["children"].set_index("_key")
    assert children.loc[key, "c_age"] == 4
    assert children.loc[key, "_parent_key"] == survey["a"]
    assert list(second["children"]["_record_id"]) == [late, survey["a"]]
    assert second["children"]["_index"].tolist() == [1, 2]


def test_types_in_pandas_parquet_and_xlsx(
    ws: Workspace, survey: dict[str, str], tmp_path: Path
) -> None:
    frame = tables(ws, "survey")["survey"]
    assert str(frame["visit_day"].dtype).startswith("datetime64")
    assert frame["seen_at"].iloc[0] == pd.Timestamp("2026-03-01T10:30:00Z")  # in UTC
    assert str(frame["seen_at"].dt.tz) == "UTC"
    assert frame["seen_time"].iloc[1].isoformat() == "17:45:30"
    assert str(frame["reached"].dtype) == "Int64"
    export_form(ws, "survey", fmt="parquet", out_dir=tmp_path)
    schema = pq.read_schema(tmp_path / "survey.parquet")
    assert str(schema.field("visit_day").type) == "date32[day]"
    assert str(schema.field("seen_at").type) == "timestamp[ms, tz=UTC]"
    assert str(schema.field("seen_time").type).startswith("time64")
    assert str(schema.field("_capture_day").type) == "date32[day]"
    export_form(ws, "survey", fmt="xlsx", out_dir=tmp_path / "x")
    sheet = openpyxl.load_workbook(tmp_path / "x" / "survey.xlsx")["survey"]
    head = [c.value for c in sheet[1]]
    day = sheet.cell(row=2, column=head.index("visit_day") + 1)
    assert day.is_date and day.value.date().isoformat() == "2026-03-01"
    assert day.number_format == "yyyy-mm-dd"
    # Frozen header, a filter over the table, widths set.
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")
    assert sheet.column_dimensions["A"].width >= 8


def test_select_one_is_a_category_with_every_level(
    ws: Workspace, survey: dict[str, str], tmp_path: Path
) -> None:
    ws.forms.add(definition(FORMS / "household_v2.md"))
    frame = tables(ws, "survey")["survey"]
    # select_one in v1, select_multiple in v2: the richer shape, with its 0/1 columns.
    assert list(frame["kind"]) == ["school", "market clinic"]
    assert list(frame["kind/school"]) == [1, 0]
    assert list(frame["kind/clinic"]) == [0, 1]


def test_categorical_levels_in_parquet(ws: Workspace, tmp_path: Path) -> None:
    ws.forms.add(definition(FORMS / "survey_v1.md"))
    receive(ws, "survey", V1, version="1")
    export_form(ws, "survey", fmt="parquet", out_dir=tmp_path)
    back = pd.read_parquet(tmp_path / "survey.parquet")
    assert isinstance(back["kind"].dtype, pd.CategoricalDtype)
    assert list(back["kind"].cat.categories) == ["school", "market"]  # market never answered
    labelled = tables(ws, "survey", ExportOptions(values="labels", headers="labels", lang="fr"))
    french = labelled["survey"]
    assert list(french["Type de lieu"]) == ["École"]
    assert list(french["Type de lieu"].cat.categories) == ["École", "Marché"]


def test_question_moved_between_groups_is_one_column(ws: Workspace, survey: dict[str, str]) -> None:
    frame = tables(ws, "survey")["survey"]
    assert list(frame["moved"]) == [5, 7]
    assert not [c for c in frame.columns if c.startswith("moved") and c != "moved"]


def test_geopoint_raw_beside_parts_missing_parts_blank(
    ws: Workspace, survey: dict[str, str]
) -> None:
    frame = tables(ws, "survey")["survey"]
    assert list(frame["point"]) == ["-1.28 36.82", "-1.5 36.9 1700 5"]
    assert frame["point_latitude"].tolist() == [-1.28, -1.5]
    assert frame["point_altitude"].isna().tolist() == [True, False]
    assert frame["point_precision"].isna().tolist() == [True, False]


def test_received_at_and_same_device_name_as_the_coordinator(
    ws: Workspace, survey: dict[str, str]
) -> None:
    frame = tables(ws, "survey")["survey"].set_index("_id")
    assert frame.loc[survey["a"], "_received_at"] == pd.Timestamp("2026-03-04T08:00:00Z")
    assert pd.isna(frame.loc[survey["b"], "_received_at"])
    n = ws.records.import_many([{
        "record_id": "00000000-0000-4000-8000-000000000099", "form_id": "survey",
        "form_version": "2", "answers": V2, "device": "dev-1", "capture_day": "2026-03-05",
        "finalized_at": "2026-03-05T10:00:00.000Z", "received_at": "2026-03-06T01:02:03.000Z",
    }])  # fmt: skip
    assert n == 1
    again = tables(ws, "survey")["survey"].set_index("_id")
    assert again.loc["00000000-0000-4000-8000-000000000099", "_received_at"] == pd.Timestamp(
        "2026-03-06T01:02:03Z"
    )
    # A record made on this laptop carries the server's pseudonym, as the pulled copy does,
    # and "sent" is the laptop's delivery state, not the record's.
    ws.state.set("sync.device_id", "dev-server-name")
    draft = ws.records.create_draft(form_id="survey", form_version="2", answers=V2)
    ws.records.finalize(draft.id, answers=V2)
    ws.records.set_envelope(draft.id, b"sealed")
    ws.records.mark_sent([draft.id])
    local = tables(ws, "survey")["survey"].set_index("_id").loc[draft.id]
    assert local["_device"] == "dev-server-name"
    assert local["_status"] == "finalized"


def test_an_edit_gets_a_new_instance_id_and_names_the_old_one(ws: Workspace) -> None:
    ws.forms.add(definition(FORMS / "household_v2.md"))
    first = ws.records.create_draft(form_id="household", form_version="2")
    answers = {"/data/age": "30", "/data/meta/instanceID": "uuid:first"}
    ws.records.finalize(first.id, answers=answers)
    edit = ws.records.replace(first.id)
    new_id = edit.answers["/data/meta/instanceID"]
    assert new_id.startswith("uuid:") and new_id != "uuid:first"
    done = ws.records.finalize(edit.id, answers={**edit.answers, "/data/age": "31"})
    assert done.answers["/data/meta/deprecatedID"] == "uuid:first"
    frame = tables(ws, "household")["household"]
    assert list(frame["instanceID"]) == [new_id]
    assert list(frame["deprecatedID"]) == ["uuid:first"]
    assert list(frame["_replaces"]) == [first.id]


def test_csv_guard_is_switchable(ws: Workspace, tmp_path: Path) -> None:
    ws.forms.add(definition(FORMS / "household_v2.md"))
    receive(ws, "household", {"/data/remarks": "+44 20 7946 0000"}, version="2")
    export_form(ws, "household", fmt="csv", out_dir=tmp_path / "a")
    export_form(ws, "household", fmt="csv", out_dir=tmp_path / "b",
                options=ExportOptions(neutralise_csv=False))  # fmt: skip
    export_form(ws, "household", fmt="xlsx", out_dir=tmp_path / "c")
    guarded = pd.read_csv(tmp_path / "a" / "household.csv", encoding="utf-8-sig", dtype=str)
    raw = pd.read_csv(tmp_path / "b" / "household.csv", encoding="utf-8-sig", dtype=str)
    assert list(guarded["remarks"]) == ["'+44 20 7946 0000"]
    assert list(raw["remarks"]) == ["+44 20 7946 0000"]
    sheet = pd.read_excel(tmp_path / "c" / "household.xlsx", sheet_name="household", dtype=str)
    assert list(sheet["remarks"]) == ["+44 20 7946 0000"]  # a typed string cell: exact


def test_codebook_and_manifest(ws: Workspace, survey: dict[str, str], tmp_path: Path) -> None:
    export_form(ws, "survey", fmt="csv", out_dir=tmp_path, options=ExportOptions(since=None))
    with (tmp_path / "survey.codebook.csv").open(encoding="utf-8-sig", newline="") as fh:
        book = {(r["table"], r["column"]): r for r in csv.DictReader(fh)}
    kind = book[("survey", "kind")]
    assert kind["xlsform_type"] == "select_multiple"
    assert kind["label::French (fr)"] == "Type de lieu"
    assert kind["choices::English (en)"] == "school = School | market = Market | clinic = Clinic"
    assert book[("survey", "visit_day")]["export_type"] == "date"
    assert book[("survey", "kind/clinic")]["label::English (en)"] == "Kind of place / Clinic"
    assert book[("children", "_parent_key")]["label::English (en)"].startswith("the _key")
    info = json.loads((tmp_path / "survey.manifest.json").read_text(encoding="utf-8"))
    assert info["form_id"] == "survey" and info["records"] == 2
    assert [(v["version"], v["records"]) for v in info["form_versions"]] == [("1", 1), ("2", 1)]
    assert info["fieldkit_version"]
    assert info["options"]["include_sensitive"] == []
    assert {t["name"]: t["file"] for t in info["tables"]} == {
        "survey": "survey.csv",
        "children": "survey-children.csv",
    }


def test_read_tables_takes_a_plain_string_path(ws: Workspace, survey: dict[str, str]) -> None:
    home = str(ws.home)
    frames = read_tables(home, "survey", passphrase=PASSPHRASE)
    assert list(frames) == ["survey", "children"]
    assert len(frames["survey"]) == 2


def test_hxl_row_only_where_no_person_is(
    ws: Workspace, survey: dict[str, str], tmp_path: Path
) -> None:
    export_form(ws, "survey", fmt="csv", out_dir=tmp_path, options=ExportOptions(hxl=True))
    with (tmp_path / "survey.csv").open(encoding="utf-8-sig", newline="") as fh:
        header, tags, *body = list(csv.reader(fh))
    assert tags[header.index("site")] == "#adm2+code"
    assert tags[header.index("reached")] == "#reached"
    assert tags[header.index("_id")] == ""
    assert len(body) == 2
    export_form(ws, "survey", fmt="xlsx", out_dir=tmp_path / "x", options=ExportOptions(hxl=True))
    sheet = openpyxl.load_workbook(tmp_path / "x" / "survey.xlsx")["survey"]
    assert sheet.cell(row=2, column=1).value == "#adm2+code"
    assert sheet.freeze_panes == "A3"
    ws.forms.add(definition(BUNDLED / "adult_screening.md"))
    with pytest.raises(UsageError, match="records people"):
        tables(ws, "adult_screening", ExportOptions(hxl=True))
    ws.forms.add(definition(FORMS / "household_v2.md"))
    with pytest.raises(UsageError, match="no hxl column"):
        tables(ws, "household", ExportOptions(hxl=True))


def test_ctdc_codes(ws: Workspace) -> None:
    ws.forms.add(definition(BUNDLED / "adult_screening.md"))
    base = {"/data/person/client_pseudonym": "AB-1234", "/data/result/labour_sector": ""}
    receive(ws, "adult_screening", {**base, "/data/person/sex": "female",
            "/data/person/age_band": "18_20", "/data/person/is_minor": "no",
            "/data/person/citizenship": "KE", "/data/core/debt_bondage": "yes",
            "/data/result/exploitation_type": "forced_labour sexual",
            "/data/result/labour_sector": "construction"}, day="2026-03-01")  # fmt: skip
    receive(ws, "adult_screening", {**base, "/data/person/sex": "prefer_not",
            "/data/person/age_band": "unknown", "/data/person/is_minor": "unknown",
            "/data/person/citizenship": "00", "/data/core/debt_bondage": "prefer_not"},
            day="2026-03-02")  # fmt: skip
    frame = tables(ws, "adult_screening", ExportOptions(codes="ctdc"))["adult_screening"]
    assert list(frame["gender"]) == ["Female", -99]
    assert list(frame["ageBroad"]) == ["18--20", -99]
    assert list(frame["majorityStatus"]) == ["Adult", -99]
    assert list(frame["citizenship"]) == ["KE", "00"]
    assert list(frame["meansOfControlDebtBondage"]) == [1, -99]
    assert list(frame["isForcedLabour"]) == [1, -99]
    assert list(frame["isForcedMarriage"]) == [0, -99]
    assert list(frame["typeOfLabourConstruction"]) == [1, -99]
    assert "sex" not in frame.columns and "age_band" not in frame.columns


def test_ctdc_codes_of_a_hotline_call(ws: Workspace) -> None:
    ws.forms.add(definition(BUNDLED / "hotline_intake.md"))
    concern, country = "/data/concern/concern_type", "/data/concern/concern_country"
    for day, kind, where in (
        ("2026-03-01", "sexual child", "KE"),
        ("2026-03-02", "child", "other"),
        ("2026-03-03", "dont_know", "00"),
    ):
        receive(ws, "hotline_intake", {concern: kind, country: where}, day=day)
    frame = tables(ws, "hotline_intake", ExportOptions(codes="ctdc"))["hotline_intake"]
    frame = frame.sort_values("_capture_day")
    # "Child" and "don't know" name no CTDC type: missing, not "no" to every type.
    assert list(frame["isSexualExploit"]) == [1, -99, -99]
    assert list(frame["isForcedLabour"]) == [0, -99, -99]
    assert list(frame["CountryOfExploitation"]) == ["KE", -99, "00"]


def test_options_are_checked_once_and_frozen() -> None:
    with pytest.raises(UsageError, match="--values"):
        ExportOptions(values="codes")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--codes"):
        ExportOptions(codes="iso")  # type: ignore[arg-type]
    options = ExportOptions(include_sensitive=["a", "b"])
    assert options.include_sensitive == ("a", "b")
    with pytest.raises(AttributeError):
        options.history = True  # type: ignore[misc]


def test_xlsx_is_a_valid_package(ws: Workspace, survey: dict[str, str], tmp_path: Path) -> None:
    export_form(ws, "survey", fmt="xlsx", out_dir=tmp_path)
    with zipfile.ZipFile(tmp_path / "survey.xlsx") as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
    assert {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml"} <= names
    back = pd.read_excel(tmp_path / "survey.xlsx", sheet_name=None)
    assert list(back) == ["survey", "children"]
    assert list(back["survey"]["reached"]) == [12, 30]
