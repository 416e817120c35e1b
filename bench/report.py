"""Report benchmark (issue 19): the coordinator's report with the programme's sections (hotline,
awareness, training, shelter, legal outcomes) against the report of the case forms alone.

Two real SQLCipher workspaces, filled once (not timed) with received records of the bundled
forms: ``cases`` holds the six forms of a case (consent, screening, referral, follow-up, needs
assessment) for ``--people`` people; ``programme`` holds the same records plus hotline calls,
awareness sessions, pre/post training tests, shelter stays and legal outcomes. Each run times
``build_report`` (read and decrypt, tables, every indicator) and ``render_html`` (charts
included) on each workspace; the baseline is the case-forms workspace, whose report has the
new sections "not available", as the report was before them.

Prints one JSON line (medians of ``--runs``). Run: ``.venv/bin/python bench/report.py
[--people N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PASSPHRASE = "bench report: a long passphrase 2026"
SITES = ("KE-0101", "KE-0102", "KE-0207", "KE-0310", "KE-0412")
CASE_FORMS = (
    "consent",
    "needs_assessment",
    "adult_screening",
    "youth_screening",
    "referral",
    "follow_up",
)


class _Records:
    """Received records of one bundled form, answers given by field name."""

    def __init__(self, ws: Any, form_id: str) -> None:
        from fieldkit.bundled import bundled_form
        from fieldkit.forms import load_form

        stored = ws.forms.add(load_form(bundled_form(form_id)).definition)
        self.form_id, self.version = form_id, stored.version
        self.paths = {n.name: n.path for n in stored.form().nodes() if n.repeat is None}
        self.batch: list[dict[str, Any]] = []

    def add(self, day: str, **answers: str) -> None:
        self.batch.append(
            {
                "record_id": str(uuid.uuid4()),
                "form_id": self.form_id,
                "form_version": self.version,
                "answers": {self.paths[k]: v for k, v in answers.items() if v != ""},
                "device": "dev-bench",
                "capture_day": day,
                "finalized_at": f"{day}T10:00:00.000Z",
                "received_at": f"{day}T12:00:00.000Z",
            }
        )


def _day(rng: random.Random) -> str:
    return f"2026-{rng.randint(1, 9):02d}-{rng.randint(1, 28):02d}"


def _cases(ws: Any, people: int, rng: random.Random) -> list[_Records]:
    consent, needs, adult, referral, follow = (
        _Records(ws, f)
        for f in ("consent", "needs_assessment", "adult_screening", "referral", "follow_up")
    )
    _Records(ws, "youth_screening")  # published, no records: its indicators still run
    for _ in range(people // 4):
        needs.add(
            _day(rng),
            site=rng.choice(SITES),
            awareness_reached=str(rng.randint(0, 40)),
            warning_signs_known=rng.choice(["offer_too_good no_contract isolation", "none"]),
        )
    for i in range(people):
        code, site, day = f"BN-{i:04d}-X", rng.choice(SITES), _day(rng)
        person = {
            "client_pseudonym": code,
            "site": site,
            "interview_date": day,
            "sex": rng.choice(["female", "male"]),
            "age_band": rng.choice(["18_20", "30_38"]),
        }
        consent.add(day, **person, consent_given="yes", consent_stats="yes")
        positive = rng.random() < 0.5
        adult.add(
            day,
            **person,
            screen_result="positive" if positive else "negative",
            exploitation_type="forced_labour" if positive else "",
            is_minor="no",
            citizenship="KE",
        )
        if positive:
            referral.add(
                day,
                **person,
                can_send="yes",
                service_types="shelter legal",
                receiving_agency=rng.choice(["ngo_shelter", "legal_aid"]),
                referral_status=rng.choice(["pending", "accepted", "done"]),
                service_start_date=day,
                case_outcome=rng.choice(["none", "prosecution"]),
            )
            follow.add(
                day,
                client_pseudonym=code,
                site=site,
                interview_date=day,
                visit_month="1",
                visit_status="done",
                due_date=day,
                visit_date=day,
                case_closed="no",
            )
    return [consent, needs, adult, referral, follow]


def _programme(ws: Any, people: int, rng: random.Random) -> list[_Records]:
    hotline, sessions, training, shelter, legal = (
        _Records(ws, f)
        for f in (
            "hotline_intake",
            "awareness_session",
            "training_test",
            "shelter_stay",
            "legal_outcome",
        )
    )
    for _ in range(people):
        day = _day(rng)
        hotline.add(
            day,
            site=rng.choice(SITES),
            interview_date=day,
            caller_type=rng.choice(["victim", "family", "anonymous"]),
            channel=rng.choice(["phone_call", "text_message"]),
            caller_agrees="yes",
            concern_type="forced_labour",
            action_taken="referral_police",
            referred=rng.choice(["yes", "no"]),
        )
    for _ in range(people // 10):
        day, took = _day(rng), rng.randint(5, 20)
        sessions.add(
            day,
            site=rng.choice(SITES),
            interview_date=day,
            event_type="workshop",
            reached_female_minor="10",
            reached_female_adult="5",
            reached_male_minor="8",
            reached_male_adult="2",
            reached_other="0",
            knowledge_check="yes",
            checked_count=str(took),
            named_3_signs_count=str(took // 2),
        )
    for seat in range(people // 2):
        course = f"POL-{2600 + seat // 99}"
        for stage, score in (("pre", rng.randint(20, 60)), ("post", rng.randint(40, 100))):
            training.add(
                "2026-03-02",
                site="KE-0101",
                interview_date="2026-03-02",
                trainee_agrees="yes",
                course_code=course,
                training_code=f"{course}-{seat % 99:02d}",
                course_topic="investigation",
                trainee_profession="police",
                test_stage=stage,
                score_percent=str(score),
            )
    for i in range(0, people, 2):
        code, site, day = f"BN-{i:04d}-X", rng.choice(SITES), _day(rng)
        shelter.add(
            day,
            client_pseudonym=code,
            site=site,
            interview_date=day,
            sex="female",
            is_minor="no",
            referring_organisation="police",
            stay_status="exited",
            exit_destination="family_reunification",
            safe_exit="yes",
            length_of_stay_days=str(rng.randint(5, 90)),
            reintegration_status="settled",
        )
        legal.add(
            day,
            client_pseudonym=code,
            site=site,
            interview_date=day,
            sex="female",
            legal_stage=rng.choice(["investigation", "prosecution", "conviction"]),
            verdict=rng.choice(["pending", "conviction", "acquittal"]),
            victim_witness_support=rng.choice(["yes", "no"]),
        )
    return [hotline, sessions, training, shelter, legal]


def _setup(home: Path, people: int, *, programme: bool) -> int:
    from fieldkit.store import create_workspace

    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    rng = random.Random(2026)
    with ws:
        forms = _cases(ws, people, rng)
        if programme:
            forms += _programme(ws, people, rng)
        for records in forms:
            ws.records.import_many(records.batch)
        return sum(len(r.batch) for r in forms)


def _time_report(home: Path) -> tuple[float, int]:
    from fieldkit.analysis import build_report, render_html
    from fieldkit.store import open_workspace

    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        started = time.perf_counter()
        report = build_report(ws)
        render_html(report)
        seconds = time.perf_counter() - started
    return seconds, sum(1 for i in report.indicators if i.available)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fieldkit-bench-report-"))
    counts = {
        name: _setup(folder / name, args.people, programme=name == "programme")
        for name in ("cases", "programme")
    }
    times: dict[str, list[float]] = {"cases": [], "programme": []}
    available: dict[str, int] = {}
    # One untimed report first: imports, matplotlib's font cache, the first key derivations.
    _time_report(folder / "cases")
    for _ in range(args.runs):
        for name in times:
            seconds, available[name] = _time_report(folder / name)
            times[name].append(seconds)
    old, new = (statistics.median(times[n]) for n in ("cases", "programme"))
    print(
        json.dumps(
            {
                "bench": "report",
                "people": args.people,
                "runs": args.runs,
                "load_average_1min": round(os.getloadavg()[0], 2),
                "records_cases": counts["cases"],
                "records_programme": counts["programme"],
                "indicators_available_cases": available["cases"],
                "indicators_available_programme": available["programme"],
                "report_cases_s": round(old, 2),
                "report_programme_s": round(new, 2),
                "ratio_programme_to_cases": round(new / old, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
