"""The bundled forms as files: they parse, build, pass ODK Validate and keep the shared contract.

The contract is /tmp/team FIELDS (names the coordinator report reads) and DOMAIN §3/§5/§6:
English and French everywhere, the same header, CTDC codes, few sensitive fields, no free text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from bundled_support import need_java, odk_validate_jar, xform

from fieldkit.bundled import FORM_NAMES, bundled_form, bundled_forms, export_xlsx
from fieldkit.errors import FormNotFound

REPO = Path(__file__).resolve().parents[2]
LANGS = {"English (en)", "French (fr)"}
YES_NO = ["yes", "no"]
YES_NO_DK_PN = ["yes", "no", "dont_know", "prefer_not"]
AGE_BANDS = [
    "0_8",
    "9_17",
    "18_20",
    "21_23",
    "24_26",
    "27_29",
    "30_38",
    "39_47",
    "48_plus",
    "unknown",
]
HEADER = [
    (
        "interviewer_role",
        "select one",
        ["field_researcher", "social_worker", "outreach_worker", "other"],
    ),
    ("site", "text", None),
    ("interview_date", "date", None),
    ("interview_language", "select one", ["en", "fr", "sw", "ar", "other"]),
    ("interpreter_used", "select one", YES_NO),
    ("mode", "select one", ["in_person", "phone"]),
]
PERSON = {
    "client_pseudonym": ("text", None),
    "sex": ("select one", ["female", "male", "other", "prefer_not"]),
    "age_band": ("select one", AGE_BANDS),
    "is_minor": ("calculate", None),
    "citizenship": ("select one", None),
}
SERVICES = [
    "shelter",
    "medical",
    "psychosocial",
    "legal",
    "immigration",
    "economic",
    "family_tracing",
    "emergency_extraction",
    "emergency_transport",
]
# FIELDS: name -> (pyxform type, choice names in order, or None when not a select).
CONTRACT: dict[str, dict[str, tuple[str, list[str] | None]]] = {
    "consent": {
        "consent_given": ("calculate", None),
        "route": ("calculate", None),
        "client_pseudonym": ("text", None),
        "age_band": ("select one", AGE_BANDS),
        "is_minor": ("calculate", None),
    },
    "needs_assessment": {
        "warning_signs_known": ("select all that apply", None),
        "awareness_reached": ("integer", None),
    },
    "adult_screening": {
        **PERSON,
        "screen_result": ("calculate", None),
        "urgent": ("calculate", None),
        "exploitation_type": (
            "select all that apply",
            [
                "forced_labour",
                "sexual",
                "forced_marriage",
                "forced_military",
                "organ_removal",
                "slavery",
                "other",
            ],
        ),
    },
    "youth_screening": {
        **PERSON,
        "screen_result": ("calculate", None),
        "urgent": ("calculate", None),
        "child_trafficking_flag": ("calculate", None),
    },
    "referral": {
        **PERSON,
        "can_send": ("calculate", None),
        "service_types": ("select all that apply", SERVICES),
        "referral_status": (
            "select one",
            ["pending", "accepted", "rejected", "in_progress", "done"],
        ),
        "referral_date": ("date", None),
        "service_start_date": ("date", None),
        "receiving_agency": ("select one", None),
        "urgency": ("select one", ["routine", "urgent", "emergency"]),
        "legal_basis": ("select one", ["none", "child_protection", "imminent_danger"]),
        "case_outcome": ("select one", ["none", "investigation", "prosecution", "conviction"]),
    },
    "follow_up": {
        "client_pseudonym": ("text", None),
        "visit_month": ("select one", ["1", "3", "6", "12"]),
        "due_date": ("calculate", None),
        "visit_date": ("date", None),
        "visit_status": ("select one", ["done", "missed"]),
        "urgent": ("calculate", None),
        "case_closed": ("select one", YES_NO),
    },
    "hotline_intake": {
        "contact_hour": ("integer", None),
        "channel": ("select one", None),
        "caller_type": (
            "select one",
            ["victim", "family", "witness", "professional", "anonymous"],
        ),
        "caller_agrees": ("select one", YES_NO),
        "concern_type": (
            "select all that apply",
            ["forced_labour", "sexual", "child", "forced_marriage", "other", "dont_know"],
        ),
        "urgency": ("select one", ["routine", "urgent", "emergency"]),
        "action_taken": ("select all that apply", None),
        "referred": ("calculate", None),
        "urgent": ("calculate", None),
    },
    "awareness_session": {
        "event_type": ("select one", None),
        "audience_type": ("select all that apply", None),
        "reached_female_minor": ("integer", None),
        "reached_female_adult": ("integer", None),
        "reached_male_minor": ("integer", None),
        "reached_male_adult": ("integer", None),
        "reached_other": ("integer", None),
        "reached_total": ("calculate", None),
        "checked_count": ("integer", None),
        "named_3_signs_count": ("integer", None),
    },
    "training_test": {
        "trainee_agrees": ("select one", YES_NO),
        "course_code": ("text", None),
        "training_code": ("text", None),
        "course_topic": ("select one", None),
        "trainee_profession": ("select one", None),
        "test_stage": ("select one", ["pre", "post"]),
        "score_percent": ("calculate", None),
    },
    "shelter_stay": {
        **PERSON,
        "incoming_referral_date": ("date", None),
        "referring_organisation": ("select one", None),
        "services_delivered": (
            "select all that apply",
            ["medical", "counselling", "legal_aid", "education", "vocational", "none"],
        ),
        "stay_status": ("select one", ["in_shelter", "exited"]),
        "exit_date": ("date", None),
        "exit_destination": (
            "select one",
            [
                "family_reunification",
                "independent_living",
                "other_shelter",
                "left_without_notice",
                "other",
            ],
        ),
        "length_of_stay_days": ("calculate", None),
        "safe_exit": ("calculate", None),
    },
    "legal_outcome": {
        "client_pseudonym": ("text", None),
        "sex": PERSON["sex"],
        "age_band": PERSON["age_band"],
        "legal_stage": ("calculate", None),
        "verdict": ("select one", ["pending", "conviction", "acquittal"]),
        "charges": ("select all that apply", None),
        "victim_witness_support": ("select one", ["yes", "no", "dont_know"]),
    },
}
# DOMAIN §5 fields, kept few; README documents each one.
SENSITIVE = {
    "consent": {"contact_detail"},
    "needs_assessment": {"own_experience"},
    "adult_screening": {"injured_now", "violence", "commercial_sex"},
    "youth_screening": {"sex_for_value"},
    "referral": {"safe_contact_detail"},
    "follow_up": {"wellbeing", "distress"},
    "hotline_intake": {"callback_number"},
    "awareness_session": set(),
    "training_test": set(),
    "shelter_stay": set(),
    "legal_outcome": set(),
}
REQUIRES_CONSENT = {
    "consent": "no",
    "needs_assessment": "no",
    "adult_screening": "yes",
    "youth_screening": "yes",
    "referral": "yes",
    "follow_up": "yes",
    "hotline_intake": "no",
    "awareness_session": "no",
    "training_test": "no",
    "shelter_stay": "yes",
    "legal_outcome": "yes",
}
# The only text questions allowed: codes and a phone number, each held by a pattern.
TEXT_ALLOWED = {
    "site",
    "client_pseudonym",
    "contact_detail",
    "safe_contact_detail",
    "concern_district",
    "callback_number",
    "course_code",
    "training_code",
}
# DOMAIN §3 item ranges, counted over the groups holding the screening items.
ITEM_GROUPS = {
    "adult_screening": ({"right_now", "core", "ilo"}, 10, 16),
    "youth_screening": ({"items", "right_now"}, 4, 8),
}


@cache
def definition(name: str) -> dict[str, Any]:
    from pyxform.xls2json import parse_file_to_json

    warnings: list[str] = []
    parsed = parse_file_to_json(str(bundled_form(name)), warnings=warnings)
    assert warnings == []
    return parsed


def elements(node: dict[str, Any], group: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every element below node with its nearest group name, meta left out."""
    out = []
    for child in node.get("children", []):
        if child.get("name") == "meta":
            continue
        out.append((group, child))
        if child["type"] == "group":
            out.extend(elements(child, child["name"]))
    return out


def questions(name: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (g, e)
        for g, e in elements(definition(name))
        if e["type"] not in {"group", "note", "calculate"}
    ]


def choice_names(element: dict[str, Any]) -> list[str]:
    return [c["name"] for c in element.get("choices", [])]


@pytest.fixture(scope="module", params=FORM_NAMES)
def form_name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_bundled_forms_lists_the_forms_in_case_order_then_the_programme() -> None:
    forms = bundled_forms()
    assert list(forms) == list(FORM_NAMES)
    assert list(FORM_NAMES) == [
        "consent",
        "needs_assessment",
        "adult_screening",
        "youth_screening",
        "referral",
        "follow_up",
        "hotline_intake",
        "awareness_session",
        "training_test",
        "shelter_stay",
        "legal_outcome",
    ]
    for name, path in forms.items():
        # From the checkout: fieldkit/bundled_forms is a link to forms/ (what a wheel carries).
        assert path.resolve() == REPO / "forms" / f"{name}.md"
        assert path.is_file()
    assert bundled_form("referral") == forms["referral"]


def test_unknown_bundled_form_is_a_form_error() -> None:
    with pytest.raises(FormNotFound, match="no bundled form named 'intake'"):
        bundled_form("intake")


def test_a_missing_form_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fieldkit.bundled

    (tmp_path / "consent.md").write_bytes(bundled_form("consent").read_bytes())
    monkeypatch.setattr(fieldkit.bundled, "_forms_dir", lambda: tmp_path)
    with pytest.raises(FormNotFound, match="missing: needs_assessment, adult_screening"):
        bundled_forms()


def test_a_built_package_carries_the_forms(tmp_path: Path) -> None:
    # build_py is the step that collects a wheel's files: build from a copy of the sources
    # (it writes egg-info next to pyproject.toml) and import fieldkit.bundled from the result.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("fieldkit", "sync", "forms"):
        shutil.copytree(
            REPO / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    built = tmp_path / "lib"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(built),
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=120,
    )
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from fieldkit.bundled import bundled_forms; "
            "print(json.dumps({k: str(v) for k, v in bundled_forms().items()}))",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(built)},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    forms = {name: Path(path) for name, path in json.loads(shown.stdout).items()}
    assert list(forms) == list(FORM_NAMES)
    for name, path in forms.items():
        assert path.parent == built / "fieldkit" / "bundled_forms"
        assert not path.is_symlink()
        assert path.read_bytes() == (REPO / "forms" / f"{name}.md").read_bytes()


def test_form_parses_and_builds_an_xform(form_name: str, tmp_path: Path) -> None:
    xml = xform(form_name, tmp_path).read_text(encoding="utf-8")
    assert f'<data id="{form_name}" version="' in xml
    assert '<translation lang="French (fr)">' in xml


@pytest.mark.parity
def test_forms_pass_odk_validate(tmp_path: Path) -> None:
    need_java()
    files = [str(xform(name, tmp_path)) for name in FORM_NAMES]
    done = subprocess.run(
        ["java", "-Djava.awt.headless=true", "-jar", str(odk_validate_jar()), *files],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Xform is valid!") == len(FORM_NAMES)
    assert "Warning" not in done.stdout + done.stderr


def test_settings(form_name: str) -> None:
    parsed = definition(form_name)
    assert parsed["id_string"] == form_name
    assert parsed["name"] == "data"
    assert parsed["default_language"] == "English (en)"
    assert re.fullmatch(r"20\d{8}", parsed["version"])
    assert parsed["requires_consent"] == REQUIRES_CONSENT[form_name]
    # The field that may stand in for consent (a recorded legal basis), for the consent gate.
    assert parsed.get("consent_override") == ("legal_basis" if form_name == "referral" else None)


def test_fieldkit_loads_the_form(form_name: str) -> None:
    from fieldkit.forms import load_form

    form = load_form(bundled_form(form_name))
    assert form.id == form_name
    assert form.languages == ["English (en)", "French (fr)"]
    assert form.requires_consent is (REQUIRES_CONSENT[form_name] == "yes")
    assert {n.name for n in form.nodes() if n.sensitive} == SENSITIVE[form_name]


def test_every_text_is_in_english_and_french(form_name: str) -> None:
    parsed = definition(form_name)
    for _, element in elements(parsed):
        where = f"{form_name}:{element.get('name')}"
        if element["type"] == "calculate":
            assert "label" not in element, where
            continue
        assert set(element["label"]) == LANGS, where
        assert all(text.strip() for text in element["label"].values()), where
        if "hint" in element:
            assert set(element["hint"]) == LANGS, where
        bind = element.get("bind", {})
        if "constraint" in bind:
            assert set(bind["jr:constraintMsg"]) == LANGS, where
        if bind.get("required") == "yes":
            assert set(bind["jr:requiredMsg"]) == LANGS, where
    for list_name, choices in parsed["choices"].items():
        for choice in choices:
            assert set(choice["label"]) == LANGS, f"{form_name}:{list_name}:{choice['name']}"


def test_the_header_is_the_same_on_every_form(form_name: str) -> None:
    header = next(e for _, e in elements(definition(form_name)) if e["name"] == "header")
    got = [(e["name"], e["type"], choice_names(e) or None) for e in header["children"]]
    assert got == HEADER
    assert all(e["bind"]["required"] == "yes" for e in header["children"])


def test_contract_fields(form_name: str) -> None:
    found: dict[str, dict[str, Any]] = {}
    for _, element in elements(definition(form_name)):
        assert element["name"] not in found, f"{form_name}: {element['name']} is not unique"
        found[element["name"]] = element
    for name, (kind, choices) in CONTRACT[form_name].items():
        assert name in found, f"{form_name}: {name} missing"
        assert found[name]["type"] == kind, f"{form_name}: {name}"
        if choices is not None:
            assert choice_names(found[name]) == choices, f"{form_name}: {name}"
    if "citizenship" in found:
        names = choice_names(found["citizenship"])
        assert names[-1] == "00"
        assert all(re.fullmatch(r"[A-Z]{2}", c) for c in names if c not in {"00", "other"})
    if "receiving_agency" in found:
        assert choice_names(found["receiving_agency"])[-1] == "other"


def test_shared_yes_no_lists(form_name: str) -> None:
    lists = definition(form_name)["choices"]
    assert [c["name"] for c in lists["yes_no"]] == YES_NO
    if "yes_no_dk_pn" in lists:
        assert [c["name"] for c in lists["yes_no_dk_pn"]] == YES_NO_DK_PN


def test_sensitive_fields_are_few_and_declinable(form_name: str) -> None:
    marked = {e["name"]: e for _, e in elements(definition(form_name)) if e.get("sensitive")}
    assert set(marked) == SENSITIVE[form_name]
    assert all(e["sensitive"] == "yes" for e in marked.values())
    for name, element in marked.items():
        if element["type"].startswith("select"):
            assert {"dont_know", "prefer_not"} <= set(choice_names(element)), name
        else:
            # A sensitive text is never required and is held to a pattern (digits only).
            assert element.get("bind", {}).get("required") != "yes", name
            assert "regex(" in element["bind"]["constraint"], name


def test_screening_items_all_offer_dont_know_and_prefer_not() -> None:
    for form_name, (groups, low, high) in ITEM_GROUPS.items():
        items = [e for g, e in questions(form_name) if g in groups]
        assert low <= len(items) <= high, form_name
        for element in items:
            assert choice_names(element) == YES_NO_DK_PN, element["name"]
            # Optional: a skipped item stays empty and is never read as "no".
            assert element.get("bind", {}).get("required") != "yes", element["name"]


def test_needs_assessment_has_35_to_45_items_and_no_free_text() -> None:
    items = [e for g, e in questions("needs_assessment") if g != "header"]
    assert 35 <= len(items) <= 45
    assert [e["name"] for e in items if e["type"] == "text"] == []


def test_no_free_text_anywhere(form_name: str) -> None:
    texts = {e["name"]: e for _, e in questions(form_name) if e["type"] == "text"}
    assert set(texts) <= TEXT_ALLOWED
    for name, element in texts.items():
        assert "regex(" in element["bind"]["constraint"], name


def test_xlsx_twin_matches_the_markdown(form_name: str) -> None:
    from pyxform.xls2json import parse_file_to_json

    twin = REPO / "forms" / f"{form_name}.xlsx"
    assert parse_file_to_json(str(twin)) == definition(form_name)


def test_export_xlsx_writes_an_equivalent_workbook(tmp_path: Path) -> None:
    from pyxform.xls2json import parse_file_to_json

    into_folder = export_xlsx("referral", tmp_path)
    assert into_folder == tmp_path / "referral.xlsx"
    named = export_xlsx("consent", tmp_path / "my-consent.xlsx")
    assert named == tmp_path / "my-consent.xlsx"
    assert parse_file_to_json(str(into_folder)) == definition("referral")
    assert parse_file_to_json(str(named)) == definition("consent")


def test_readme_documents_every_form_and_sensitive_field() -> None:
    readme = (REPO / "forms" / "README.md").read_text(encoding="utf-8")
    for form_name, names in SENSITIVE.items():
        section = readme.split(f"## {form_name}", 1)[1].split("\n## ", 1)[0]
        line = next(ln for ln in section.splitlines() if ln.startswith("Sensitive:"))
        assert set(re.findall(r"`(\w+)`", line)) == names, form_name
