"""Indicators on a constructed data set, with every expected figure worked out by hand.

The data set (built on the bundled forms in forms/, fields found by name as the report does):

- adult screenings A01–A24, one each, interview 2026-03-DD (DD = the number). A01–A15 female,
  A16–A24 male; all 21_23, adults, citizenship KE. Site KE-0101 for A01–A20, KE-0303 for A21–A24.
  A01–A12 positive (A01–A06 forced_labour; A07–A12 forced_labour + sexual), A13–A24 negative.
- youth screenings Y01–Y12, female, 9_17, minors, citizenship UG, site "<i>KE-9</i>" (a hostile
  value: it must come out escaped), interview 2026-04-DD. Y01–Y03 positive.
- referrals for A01–A14 (A14 cannot be sent), interview 2026-03-25: A01–A05 shelter + medical
  (agency ngo_shelter), A06–A13 legal (A06–A10 legal_aid, A11–A13 other). Status: done A01–A04,
  in_progress A05–A06, accepted A07–A08, rejected A09, pending A10–A14. Service started for
  A01–A06, 2, 4, 4, 10, 1, 7 days after their screening. Outcome: A01 conviction, A02
  prosecution, A03–A04 investigation.
- follow-ups: A01 month 1 done on time + month 3 done late and closed; A02 missed; A03 done on
  time, closed; A04 done without a visit date; A05 done on time, closed; A06 missed.
- needs assessments N1–N7: reached 10, 20, -, 5, 0, -, -; warning signs known: 3 signs, 1 + none,
  unanswered, 4, 3, none, 1; sites KE-0101 for N1–N3, KE-0202 for N4–N7.
- every sensitive field of every record holds the marker CANARY-7Q.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from _analysis_kit import BUNDLED, PASSPHRASE, definition, receive

from fieldkit.analysis import build_report, render_html, render_json, write_report
from fieldkit.analysis._cells import Protection, Raw, publish
from fieldkit.bundled import FORM_NAMES
from fieldkit.forms import Form
from fieldkit.store import Workspace, create_workspace

CANARY = "CANARY-7Q"


class Writer:
    """Answers by field name → instance paths of a bundled form; sensitive fields get the canary."""

    def __init__(self, ws: Workspace, form_id: str) -> None:
        stored = ws.forms.add(definition(BUNDLED / f"{form_id}.md"))
        self.ws, self.form_id, self.version = ws, form_id, stored.version
        self.form: Form = stored.form()

    def path(self, name: str) -> str:
        nodes = self.form.named(name)
        assert len(nodes) == 1, name
        return nodes[0].path

    def add(self, day: str, **answers: str) -> str:
        values = {self.path(k): v for k, v in answers.items()}
        for node in self.form.nodes():
            if node.sensitive and node.kind not in ("group", "repeat") and node.repeat is None:
                values[node.path] = f"{CANARY} {node.name}"
        return receive(self.ws, self.form_id, values, version=self.version, day=day)


def build(ws: Workspace) -> None:
    adult = Writer(ws, "adult_screening")
    youth = Writer(ws, "youth_screening")
    referral = Writer(ws, "referral")
    follow = Writer(ws, "follow_up")
    needs = Writer(ws, "needs_assessment")
    Writer(ws, "consent").add("2026-03-01", client_pseudonym="AB-0001", site="KE-0101")
    for i in range(1, 25):
        answers = {
            "client_pseudonym": f"AB-{i:04d}",
            "site": "KE-0101" if i <= 20 else "KE-0303",
            "interview_date": f"2026-03-{i:02d}",
            "sex": "female" if i <= 15 else "male",
            "age_band": "21_23",
            "is_minor": "no",
            "citizenship": "KE",
            "screen_result": "positive" if i <= 12 else "negative",
        }
        if i <= 12:
            answers["exploitation_type"] = "forced_labour" if i <= 6 else "forced_labour sexual"
        adult.add(f"2026-03-{i:02d}", **answers)
    for i in range(1, 13):
        youth.add(
            f"2026-04-{i:02d}",
            client_pseudonym=f"YY-{i:04d}",
            site="<i>KE-9</i>",
            interview_date=f"2026-04-{i:02d}",
            sex="female",
            age_band="9_17",
            is_minor="yes",
            citizenship="UG",
            screen_result="positive" if i <= 3 else "negative",
        )
    status = {1: "done", 2: "done", 3: "done", 4: "done", 5: "in_progress", 6: "in_progress",
              7: "accepted", 8: "accepted", 9: "rejected"}  # fmt: skip
    gap = {1: 2, 2: 4, 3: 4, 4: 10, 5: 1, 6: 7}
    outcome = {1: "conviction", 2: "prosecution", 3: "investigation", 4: "investigation"}
    for i in range(1, 15):
        answers = {
            "client_pseudonym": f"AB-{i:04d}",
            "site": "KE-0101",
            "interview_date": "2026-03-25",
            "sex": "female",
            "age_band": "21_23",
            "can_send": "yes" if i <= 13 else "no",
            "service_types": "shelter medical" if i <= 5 else "legal",
            "receiving_agency": "ngo_shelter" if i <= 5 else "legal_aid" if i <= 10 else "other",
            "referral_status": status.get(i, "pending"),
            "case_outcome": outcome.get(i, "none"),
        }
        if i in gap:
            answers["service_start_date"] = f"2026-03-{i + gap[i]:02d}"
        referral.add("2026-03-25", **answers)
    visits = [
        (1, "1", "done", "2026-04-01", "2026-04-01", "no"),
        (1, "3", "done", "2026-06-01", "2026-06-09", "yes"),
        (2, "1", "missed", "2026-04-02", "", "no"),
        (3, "1", "done", "2026-04-03", "2026-04-02", "yes"),
        (4, "1", "done", "2026-04-04", "", "no"),
        (5, "1", "done", "2026-04-05", "2026-04-05", "yes"),
        (6, "1", "missed", "2026-04-06", "", "no"),
    ]
    for person, month, state, due, visited, closed in visits:
        follow.add(
            due,
            client_pseudonym=f"AB-{person:04d}",
            site="KE-0101",
            interview_date=visited or due,
            visit_month=month,
            visit_status=state,
            due_date=due,
            visit_date=visited,
            case_closed=closed,
        )
    signs = [
        "offer_too_good no_contract documents_taken",
        "offer_too_good none",
        "",
        "offer_too_good recruitment_fees no_contract cannot_leave",
        "isolation threats_violence travel_paid",
        "none",
        "isolation",
    ]
    reached = ["10", "20", "", "5", "0", "", ""]
    for n in range(7):
        needs.add(
            f"2026-03-{n + 1:02d}",
            site="KE-0101" if n < 3 else "KE-0202",
            interview_date=f"2026-03-{n + 1:02d}",
            awareness_reached=reached[n],
            warning_signs_known=signs[n],
        )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "home"
    ws, _ = create_workspace(path, passphrase=PASSPHRASE)
    with ws:
        build(ws)
    return path


@pytest.fixture
def ws(home: Path) -> Any:
    from fieldkit.store import open_workspace

    with open_workspace(home, passphrase=PASSPHRASE) as workspace:
        yield workspace


def figures(report: Any) -> dict[str, Any]:
    """{indicator key: {"all": value, dim: {label: value}}} from the published JSON."""
    out: dict[str, Any] = {}
    for ind in json.loads(render_json(report))["indicators"]:
        entry: dict[str, Any] = {"all": ind["total"]["value"] if ind["total"] else None}
        for dim, cells in ind["breakdowns"].items():
            entry[dim] = {c["key"]: c["value"] for c in cells}
        out[ind["key"]] = entry
    return out


def test_exact_values_with_small_k(ws: Workspace) -> None:
    """k = 3 and resolution 1: nearly every figure shows, so each can be checked by hand."""
    got = figures(build_report(ws, min_cell=3, resolution=1))
    assert got["people_screened"] == {
        "all": 36,
        "form": {"adult_screening": 24, "youth_screening": 12},
        "site": {"<i>KE-9</i>": 12, "KE-0101": 20, "KE-0303": 4},
        "sex": {"female": 27, "male": 9},
        "age_band": {"9_17": 12, "21_23": 24},
    }
    assert got["screen_positive_rate"] == {
        "all": 42,  # 15 of 36
        "form": {"adult_screening": 50, "youth_screening": 25},
        "site": {"<i>KE-9</i>": 25, "KE-0101": 60, "KE-0303": 0},
        "sex": {"female": 56, "male": 0},  # 15 of 27; 0 of 9
        "age_band": {"9_17": 25, "21_23": 50},
    }
    # A breakdown into one group only repeats the total: it is left out (and named).
    assert got["presumed_victims"] == {
        "all": 15,
        "minor": {"minor": 3, "adult": 12},
        "exploitation_type": {"forced_labour": 12, "sexual": 6, "not recorded": 3},
        "citizenship": {"KE": 12, "UG": 3},
        "site": {"<i>KE-9</i>": 3, "KE-0101": 12},
    }
    assert got["referrals_made"] == {
        "all": 13,
        "service_type": {"legal": 8, "medical": 5, "shelter": 5},
    }
    assert got["referrals_accepted"]["all"] == 62  # 8 of 13
    assert got["referrals_completed"]["all"] == 31  # 4 of 13
    assert got["emergency_requests"] == {"all": 5}
    assert got["identified_receiving_service"] == {
        "all": 40,  # 6 of 15
        "site": {"<i>KE-9</i>": 0, "KE-0101": 50},
        "age_band": {"9_17": 0, "21_23": 50},
    }
    assert got["days_to_first_service"] == {"all": 4.0}  # 1 2 4 4 7 10
    assert got["follow_ups_per_case"] == {"all": 0.8}  # 5 done / 6
    # 3 of 6 (A04's visit without a date is left out). By month: month 1 is 3 of 5, but
    # 2 late or missed is too few to show, and month 3 (one follow-up) is a small group:
    # nothing left to show on its own, so no breakdown.
    assert got["follow_ups_on_time"] == {"all": 50}
    assert got["case_closure_rate"] == {"all": 50}  # 3 of 6
    assert got["investigations"] == {"all": 4}
    assert got["prosecutions"] == {"all": "<3"}  # A01, A02
    assert got["convictions"] == {"all": "<3"}  # A01
    assert got["active_referral_partners"] == {"all": 2}
    # The needs assessment is an anonymous community survey: exact, never suppressed.
    assert got["people_reached"] == {"all": 35, "site": {"KE-0101": 30, "KE-0202": 5}}
    # KE-0101: 1 of 2 answered; KE-0202: 2 of 4; all: 3 of 6.
    assert got["warning_signs_3"] == {"all": 50, "site": {"KE-0101": 50, "KE-0202": 50}}


def test_default_suppression_and_rounding(ws: Workspace) -> None:
    """k = 11, resolution 5: small cells "<11", others rounded down, small groups combined,
    complements withheld, percentages from the published counts."""
    report = build_report(ws)
    got = figures(report)
    # Sites: KE-0303 (4) is a small group; shown alone it could be worked out from the
    # total, so KE-9 (12) is withheld too, which leaves one site: no breakdown by site.
    # The same for sex (male 9).
    assert got["people_screened"] == {
        "all": 35,  # 36
        "form": {"adult_screening": 20, "youth_screening": 10},  # 24, 12
        "age_band": {"9_17": 10, "21_23": 20},
    }
    by_key = {i.key: i for i in report.indicators}
    assert set(by_key["people_screened"].omitted) == {"site", "sex"}
    # 15 of 36 exactly, published as 15 of 35: the page shows 43 %, which 15/35 gives.
    assert got["screen_positive_rate"]["all"] == 43
    assert "form" not in got["screen_positive_rate"]  # youth: 3 positives; adults then too
    assert got["referrals_made"] == {"all": 10}  # 13 referrals; services all small groups
    assert got["referrals_accepted"]["all"] == "withheld"  # 8 accepted < 11
    assert got["days_to_first_service"]["all"] == "withheld"  # 6 people
    assert got["investigations"]["all"] == "<11"
    assert got["active_referral_partners"]["all"] == 2  # organisations: not suppressed
    assert got["people_reached"]["site"] == {"KE-0101": 30, "KE-0202": 5}  # anonymous: exact
    as_json = json.loads(render_json(report))
    total = next(i for i in as_json["indicators"] if i["key"] == "screen_positive_rate")["total"]
    assert total == {"key": "all", "label": "all", "value": 43, "numerator": 15,
                     "denominator": 35, "suppressed": False}  # fmt: skip
    assert as_json["records"]["adult_screening"] == 20
    assert as_json["records"]["needs_assessment"] == 7  # anonymous survey: exact


def test_period_filter(ws: Workspace) -> None:
    march = figures(build_report(ws, date_from=date(2026, 3, 13), date_to=date(2026, 3, 31),
                                 min_cell=3, resolution=1))  # fmt: skip
    assert march["people_screened"]["all"] == 12  # A13–A24; youth are in April
    assert march["screen_positive_rate"]["all"] == 0
    assert march["presumed_victims"]["all"] == 0


def test_rate_rules() -> None:
    rules = Protection(k=11, resolution=5)

    def rate(num: int, den: int) -> Any:
        return publish("percent", Raw("all", num, den), [], rules, partition=True)[0]

    assert rate(0, 0).value is None
    # From the published counts (10 of 30), so the page adds up: not 40 %.
    assert (rate(12, 30).value, rate(12, 30).numerator, rate(12, 30).denominator) == (33, 10, 30)
    assert rate(12, 20).value == "withheld"  # 8 without: a small complement
    assert rate(20, 20).value == 100  # complement 0 describes nobody
    withheld = rate(10, 30)
    # Nothing that gives the rate back: no "withheld (10 of 30)".
    assert (withheld.value, withheld.numerator, withheld.denominator) == ("withheld", None, None)


def test_html_escapes_and_leaks_nothing(ws: Workspace, tmp_path: Path) -> None:
    report = build_report(ws, min_cell=3, resolution=1)
    out = write_report(report, tmp_path / "report.html")
    page = out.read_text(encoding="utf-8")
    assert CANARY not in page
    assert CANARY not in render_json(report)
    # No person code either, though client_pseudonym is not itself sensitive.
    assert not re.search(r"(AB|YY)-\d{4}", page)
    assert "<i>KE-9</i>" not in page and "&lt;i&gt;KE-9&lt;/i&gt;" in page
    images = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 5
    assert all(b"<svg" in base64.b64decode(i) for i in images)
    assert all(b"<script" not in base64.b64decode(i) for i in images)
    for marker in ("Definition", "Numerator", "Denominator"):
        assert marker.lower() in page.lower()
    # The default report too, and its JSON file.
    default = render_html(build_report(ws))
    assert CANARY not in default and "&lt;11" in default
    written = write_report(build_report(ws), tmp_path / "r.json", as_json=True)
    assert json.loads(written.read_text(encoding="utf-8"))["min_cell"] == 11


def test_missing_forms_are_reported_not_guessed(tmp_path: Path) -> None:
    ws, _ = create_workspace(tmp_path / "h", passphrase=PASSPHRASE)
    with ws:
        Writer(ws, "referral").add("2026-03-01", client_pseudonym="AB-0001", can_send="yes",
                                   service_types="legal", referral_status="done")  # fmt: skip
        report = build_report(ws)
    by_key = {i.key: i for i in report.indicators}
    assert not by_key["people_screened"].available
    assert by_key["people_screened"].missing is not None
    assert "screening" in by_key["people_screened"].missing
    assert by_key["referrals_made"].available
    assert "Not available" in render_html(report)


def test_chart_labels_are_never_interpreted() -> None:
    from fieldkit.analysis._cells import Figure
    from fieldkit.analysis.indicators import Indicator
    from fieldkit.analysis.report import _bar_chart

    ind = Indicator("k", "protection", "T", "d", "n", "—", "count")
    cells = [Figure(r"$\frac{$", 20), Figure("<script>", 15), Figure("x", "<11", suppressed=True)]
    svg = base64.b64decode(_bar_chart(ind, "site", cells))
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    assert b"<script>" not in svg  # the label is text in the drawing, escaped


def test_forms_without_records(tmp_path: Path) -> None:
    ws, _ = create_workspace(tmp_path / "h", passphrase=PASSPHRASE)
    with ws:
        for form_id in FORM_NAMES:
            ws.forms.add(definition(BUNDLED / f"{form_id}.md"))
        report = build_report(ws)
    got = figures(report)
    assert got["people_screened"]["all"] == 0
    assert got["screen_positive_rate"]["all"] is None  # no denominator: no rate, not 0 %
    assert got["days_to_first_service"]["all"] is None
    assert all(i.available for i in report.indicators)
    assert "—" in render_html(report)
