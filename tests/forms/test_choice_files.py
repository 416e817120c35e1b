"""Choice files beside a form: GeoJSON (HOT/FMTM-style forms) and CSV, and instance() lookups.

What ODK's own engine does with the same files is checked node by node in
test_session_vs_odk.py (diff_forms/places.md); here: what is read, what is refused, and that a
stored form needs no file beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldkit.errors import FormError
from fieldkit.forms import Form, FormSession, load_form

FORM = """\
| survey |
| | type | name | label | calculation | parameters |
| | select_one_from_file {file} | place | Place | | {parameters} |
| | calculate | where | | instance('{stem}')/root/item[id=${{place}}]/geometry | |
| | calculate | note | | instance('{stem}')/root/item[id=${{place}}]/title | |
"""


def _feature(geometry: object, **properties: object) -> dict[str, object]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _write(tmp_path: Path, features: object, *, parameters: str = "") -> Path:
    (tmp_path / "sites.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    path = tmp_path / "form.md"
    path.write_text(
        FORM.format(file="sites.geojson", stem="sites", parameters=parameters), encoding="utf-8"
    )
    return path


POINT = {"type": "Point", "coordinates": [36.8, -1.25]}


def test_geojson_features_are_choices(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {"id": "a", **_feature(POINT, title="Clinic", beds=12, open=True, rate=2.5)},
            _feature({"type": "LineString", "coordinates": [[1, 2], [3, 4.5]]}, id=7, title="Rd"),
            _feature(POINT, title="No id: left out"),
        ],
    )
    form = load_form(path)
    place = form.node("place")
    assert [(c.name, c.label()) for c in place.choices] == [("a", "Clinic"), ("7", "Rd")]
    # The item as ODK holds it: geometry, id, then the properties as JavaScript writes them.
    assert place.choices[0].item == (
        ("geometry", "-1.25 36.8 0 0"),
        ("id", "a"),
        ("title", "Clinic"),
        ("beds", "12"),
        ("open", "true"),
        ("rate", "2.5"),
    )
    session = FormSession(form)
    session.set("place", "7")
    assert session.node("where").value == "2 1 0 0; 4.5 3 0 0"
    assert session.node("note").value == "Rd"
    with pytest.raises(Exception, match="not one of the choices|not a choice"):
        session.set("place", "zzz")


def test_stored_form_needs_no_file(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"id": "a", **_feature(POINT, title="Clinic")}])
    form = load_form(path)
    (tmp_path / "sites.geojson").unlink()
    again = Form.from_definition(json.loads(json.dumps(form.definition)))
    session = FormSession(again)
    session.set("place", "a")
    assert session.node("where").value == "-1.25 36.8 0 0"


def test_value_and_label_columns_from_parameters(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [{"id": "a", **_feature(POINT, code="K1", name_en="Kisumu")}],
        parameters="value=code label=name_en",
    )
    (choice,) = load_form(path).node("place").choices
    assert (choice.name, choice.label()) == ("K1", "Kisumu")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"type": "Feature"}', "is not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": 3}', "has no list of features"),
        ('{"type": "FeatureCollection", "features": [1]}', "feature 1 is not a Feature"),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [_feature({"type": "MultiPoint", "coordinates": [[1, 2]]})],
                }
            ),
            "only Points, LineStrings and Polygons",
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [_feature({"type": "Point", "coordinates": [1, 2, 3]})],
                }
            ),
            "with longitude and latitude",
        ),
        ("[" * 100_000 + "]" * 100_000, "is not valid JSON"),
    ],
)
def test_bad_geojson_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "sites.geojson").write_text(content, encoding="utf-8")
    path = tmp_path / "form.md"
    path.write_text(FORM.format(file="sites.geojson", stem="sites", parameters=""))
    with pytest.raises(FormError, match=message) as caught:
        load_form(path)
    assert "sites.geojson" in str(caught.value) and "'place'" in str(caught.value)


def test_missing_geojson_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "form.md"
    path.write_text(FORM.format(file="sites.geojson", stem="sites", parameters=""))
    with pytest.raises(FormError, match="choice file sites.geojson not found beside the form"):
        load_form(path)


def test_other_choice_files_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "form.md"
    path.write_text(FORM.format(file="sites.xml", stem="sites", parameters=""))
    with pytest.raises(FormError, match="use a CSV or GeoJSON file"):
        load_form(path)


def test_csv_keeps_its_columns_for_instance_lookups(tmp_path: Path) -> None:
    (tmp_path / "clinics.csv").write_text(
        "code,label,phone\nc1,North,0700\nc2,South,\n", encoding="utf-8"
    )
    path = tmp_path / "form.md"
    path.write_text(
        "| survey |\n"
        "| | type | name | label | calculation | parameters |\n"
        "| | select_one_from_file clinics.csv | clinic | Clinic | | value=code |\n"
        "| | calculate | phone | | instance('clinics')/root/item[code=${clinic}]/phone | |\n",
        encoding="utf-8",
    )
    form = load_form(path)
    assert [c.name for c in form.node("clinic").choices] == ["c1", "c2"]
    session = FormSession(form)
    session.set("clinic", "c1")
    assert session.node("phone").value == "0700"


def test_choices_sheet_list_is_an_instance_too(tmp_path: Path) -> None:
    path = tmp_path / "form.md"
    path.write_text(
        "| survey |\n"
        "| | type | name | label | calculation |\n"
        "| | select_one yn | ok | OK? | |\n"
        "| | calculate | shown | | instance('yn')/root/item[name=${ok}]/label |\n"
        "| choices |\n| | list_name | name | label |\n| | yn | yes | Yes |\n| | yn | no | No |\n",
        encoding="utf-8",
    )
    session = FormSession(load_form(path))
    session.set("ok", "no")
    assert session.node("shown").value == "No"
