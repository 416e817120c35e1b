"""Who the report leaves out: refusals of anonymous statistics, and youth who declined.

The data set, with every figure below worked out by hand (k = 2, resolution 1):

- consent records (client_pseudonym, consent_stats, day): AB-0001–AB-0006 yes (03-01);
  AB-0007 no (03-01); AB-0008 no (03-01) then yes (03-05): the latest holds, counted;
  AB-0009 yes (03-01) then no (03-05): left out; AB-0010 no (2026-01-10, before any period);
  YY-0001–YY-0006 yes (04-01); YY-0007 no (04-01). 19 records, 5 of them left out.
- adult screenings, site KE-0101, 2026-03-10: AB-0001–AB-0004 positive, AB-0005–AB-0006
  negative, AB-0007 positive, AB-0008 negative, AB-0009 positive, AB-0010 positive.
  Counted: 7 people, 4 positive.
- youth screenings, site KE-0202, 2026-04-10: YY-0001–YY-0002 positive, YY-0003–YY-0004
  negative; YY-0005, YY-0006 declined (youth_refused = yes, no screen_result); YY-0007
  declined (left out: refused statistics); YY-0008 declined on 04-10, screened negative on
  04-20 (screened, not declined); YY-0009 declined twice (one person). Counted: 5 screened,
  2 positive, 3 declined.
- referrals (can_send yes, 2026-03-20): AB-0001, AB-0002 done with a service start on 03-22;
  AB-0003, AB-0004 accepted; AB-0007 done, outcome conviction; AB-0009 in progress;
  AB-0010 done. AB-0001, AB-0002 outcome investigation.
- follow-ups (done, 2026-04-20): AB-0001, AB-0002 closed; AB-0003, AB-0004 open; AB-0007
  closed; AB-0009 open.
- needs assessments (anonymous, no case code): reached 10 and 5 at KE-0101.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from _analysis_kit import BUNDLED, PASSPHRASE, definition, receive

from fieldkit.analysis import build_report, render_html, render_json
from fieldkit.store import Workspace, create_workspace, open_workspace


class Writer:
    """Answers by field name → the paths of a bundled form."""

    def __init__(self, ws: Workspace, form_id: str) -> None:
        stored = ws.forms.add(definition(BUNDLED / f"{form_id}.md"))
        self.ws, self.form_id, self.version = ws, form_id, stored.version
        self.form = stored.form()

    def add(self, day: str, **answers: str) -> str:
        values = {}
        for name, value in answers.items():
            (node,) = self.form.named(name)
            values[node.path] = value
        values.setdefault(self.form.named("interview_date")[0].path, day)
        return receive(self.ws, self.form_id, values, version=self.version, day=day)


def build(ws: Workspace) -> None:
    consent = Writer(ws, "consent")
    adult = Writer(ws, "adult_screening")
    youth = Writer(ws, "youth_screening")
    referral = Writer(ws, "referral")
    follow = Writer(ws, "follow_up")
    needs = Writer(ws, "needs_assessment")
    stats = [(f"AB-{i:04d}", "yes", "2026-03-01") for i in range(1, 7)]
    stats += [
        ("AB-0007", "no", "2026-03-01"),
        ("AB-0008", "no", "2026-03-01"),
        ("AB-0008", "yes", "2026-03-05"),
        ("AB-0009", "yes", "2026-03-01"),
        ("AB-0009", "no", "2026-03-05"),
        ("AB-0010", "no", "2026-01-10"),
    ]
    stats += [(f"YY-{i:04d}", "yes", "2026-04-01") for i in range(1, 7)]
    stats += [("YY-0007", "no", "2026-04-01")]
    for code, answer, day in stats:
        consent.add(day, client_pseudonym=code, consent_given="yes", consent_stats=answer)
    person = {"site": "KE-0101", "sex": "female", "age_band": "21_23", "is_minor": "no"}
    negative = {5, 6, 8}
    for i in range(1, 11):
        result = "negative" if i in negative else "positive"
        adult.add("2026-03-10", client_pseudonym=f"AB-{i:04d}", screen_result=result, **person)
    young = {"site": "KE-0202", "sex": "male", "age_band": "9_17", "is_minor": "yes"}
    screens = [
        ("YY-0001", "2026-04-10", "positive"),
        ("YY-0002", "2026-04-10", "positive"),
        ("YY-0003", "2026-04-10", "negative"),
        ("YY-0004", "2026-04-10", "negative"),
        ("YY-0005", "2026-04-10", ""),
        ("YY-0006", "2026-04-10", ""),
        ("YY-0007", "2026-04-10", ""),
        ("YY-0008", "2026-04-10", ""),
        ("YY-0008", "2026-04-20", "negative"),
        ("YY-0009", "2026-04-10", ""),
        ("YY-0009", "2026-04-12", ""),
    ]
    for code, day, result in screens:
        if result:
            youth.add(day, client_pseudonym=code, youth_agrees="yes", youth_refused="no",
                      screen_result=result, **young)  # fmt: skip
        else:
            youth.add(day, client_pseudonym=code, youth_agrees="no", youth_refused="yes",
                      **young)  # fmt: skip
    refs = [
        ("AB-0001", "done", "2026-03-22", "investigation"),
        ("AB-0002", "done", "2026-03-22", "investigation"),
        ("AB-0003", "accepted", "", "none"),
        ("AB-0004", "accepted", "", "none"),
        ("AB-0007", "done", "2026-03-22", "conviction"),
        ("AB-0009", "in_progress", "2026-03-22", "none"),
        ("AB-0010", "done", "2026-03-22", "none"),
    ]
    for code, status, start, outcome in refs:
        extra = {"service_start_date": start} if start else {}
        referral.add("2026-03-20", client_pseudonym=code, can_send="yes", service_types="legal",
                     receiving_agency="legal_aid", referral_status=status,
                     case_outcome=outcome, **person, **extra)  # fmt: skip
    for code, closed in (("AB-0001", "yes"), ("AB-0002", "yes"), ("AB-0003", "no"),
                         ("AB-0004", "no"), ("AB-0007", "yes"), ("AB-0009", "no")):  # fmt: skip
        follow.add("2026-04-20", client_pseudonym=code, site="KE-0101", visit_month="1",
                   visit_status="done", due_date="2026-04-25", visit_date="2026-04-20",
                   case_closed=closed)  # fmt: skip
    for reached in ("10", "5"):
        needs.add("2026-03-02", site="KE-0101", awareness_reached=reached)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exclusions") / "home"
    ws, _ = create_workspace(path, passphrase=PASSPHRASE)
    with ws:
        build(ws)
    return path


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
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


def test_declined_youth_are_not_screened(ws: Workspace) -> None:
    got = figures(build_report(ws, min_cell=2, resolution=1))
    assert got["people_screened"]["all"] == 12  # 7 adults + 5 youth
    assert got["people_screened"]["form"] == {"adult_screening": 7, "youth_screening": 5}
    assert got["people_screened"]["site"] == {"KE-0101": 7, "KE-0202": 5}
    assert got["screen_positive_rate"]["all"] == 50  # 6 of 12
    assert got["screen_positive_rate"]["form"] == {
        "adult_screening": 57,  # 4 of 7
        "youth_screening": 40,  # 2 of 5: the declined are not in the denominator
    }
    # YY-0005, YY-0006, YY-0009 (twice, one person); YY-0008 was screened later; YY-0007
    # refused statistics.
    # All at one site, one sex, one age group: breakdowns would repeat the total.
    assert got["youth_screening_declined"] == {"all": 3}
    assert got["presumed_victims"]["all"] == 6


def test_people_who_refused_statistics_are_left_out_everywhere(ws: Workspace) -> None:
    report = build_report(ws, min_cell=2, resolution=1)
    got = figures(report)
    assert report.records == {
        "consent": 14,  # 19 less AB-0007, both AB-0009, AB-0010, YY-0007
        "needs_assessment": 2,
        "adult_screening": 7,
        "youth_screening": 10,  # 11 less YY-0007; declined records are still records
        "referral": 4,
        "follow_up": 4,
    }
    assert got["referrals_made"]["all"] == 4  # AB-0001–AB-0004
    assert got["referrals_accepted"]["all"] == 100  # 4 of 4
    assert got["referrals_completed"]["all"] == 50  # 2 of 4
    assert got["identified_receiving_service"]["all"] == 33  # AB-0001, AB-0002 of 6
    assert got["days_to_first_service"]["all"] == 12.0  # 03-10 → 03-22 for both
    assert got["follow_ups_per_case"]["all"] == 1.0  # 4 done / 4 people
    assert got["case_closure_rate"]["all"] == 50  # 2 of 4
    assert got["investigations"]["all"] == 2  # AB-0001, AB-0002
    assert got["convictions"]["all"] == 0  # AB-0007's conviction is not counted
    # The anonymous needs assessment has no case code: nothing to link, counted as it is.
    assert got["people_reached"]["all"] == 15
    page = render_html(report)
    assert "refused the use of their answers in anonymous statistics" in page
    assert "left out of every figure" in page


def test_a_refusal_before_the_period_still_holds(ws: Workspace) -> None:
    # AB-0010 refused in January; the March report does not bring them back.
    march = figures(build_report(ws, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31),
                                 min_cell=2, resolution=1))  # fmt: skip
    assert march["people_screened"]["all"] == 7
    assert march["presumed_victims"]["all"] == 4
    assert march["youth_screening_declined"]["all"] == 0


def test_declined_needs_the_youth_form(tmp_path: Path) -> None:
    ws, _ = create_workspace(tmp_path / "h", passphrase=PASSPHRASE)
    with ws:
        Writer(ws, "adult_screening").add("2026-03-01", client_pseudonym="AB-0001",
                                          screen_result="negative")  # fmt: skip
        report = build_report(ws)
    by_key = {i.key: i for i in report.indicators}
    assert by_key["people_screened"].available
    assert not by_key["youth_screening_declined"].available
    assert "youth_screening" in str(by_key["youth_screening_declined"].missing)
