"""``fieldkit demo``: the whole job on embedded defaults, in a temporary folder it names.

A coordinator workspace and a field workspace are made; a server on SQLite listens on a free
loopback port; the coordinator creates the project and publishes the bundled forms; the field
laptop enrols, captures synthetic interviews through the same path as ``capture --answers``
(consent gate included), then some of each of the programme's other forms (hotline calls,
awareness sessions, training tests, shelter stays and legal outcomes, the last two linked to
screened people by case code), syncs; the coordinator pulls, exports CSV and writes the report,
every section of which then has data.

The interviews are invented by a seeded generator: no real person is in them.
"""

from __future__ import annotations

import random
import secrets
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from fieldkit.errors import AnswerError, FieldkitError, ServerError

__all__ = ["DemoResult", "run_demo", "synthetic_answers"]

Step = Callable[[str], None]

SITES = ("KE-0101", "KE-0102", "KE-0207", "KE-0310", "KE-0412")
PASSPHRASE_FILE = "demo-passphrase.txt"  # noqa: S105 (a file name, not a secret)


@dataclass
class DemoResult:
    """What the demo did and where it left its files."""

    root: Path
    server_url: str
    captured: Counter[str] = field(default_factory=Counter)
    # Interviews the form itself refused to finalize (e.g. a referral with neither consent to
    # share nor a legal basis): a valid outcome, counted apart from what was captured.
    not_saved: Counter[str] = field(default_factory=Counter)
    refused_consent: int = 0
    pushed: int = 0
    pulled: int = 0
    exported: dict[str, dict[str, int]] = field(default_factory=dict)
    export_dir: Path | None = None
    report: Path | None = None
    indicators: int = 0
    seconds: float = 0.0


# ------------------------------------------------------------------------ synthetic answers

# Per-form leanings of the generator, by question name: a fixed answer, or weights over choice
# names. Anything not named is drawn at random within the question's type and constraint.
_Lean = Mapping[str, str | Mapping[str, float]]

_CONSENT: _Lean = {
    "safe_private": {"yes": 0.95, "no": 0.05},
    "safe_monitored": {"no": 0.95, "yes": 0.05},
    "safe_time": {"yes": 0.95, "no": 0.05},
    "understood": "yes",
    "presumed_minor": {"no": 0.85, "yes": 0.1, "dont_know": 0.05},
    "consent_interview": {"yes": 0.95, "no": 0.05},
    "consent_store": "yes",
    "consent_contact": {"yes": 0.5, "no": 0.5},
    "consent_share": {"yes": 0.8, "no": 0.2},
    "consent_stats": "yes",
}
_SCREENING: _Lean = {"__yes__": {"yes": 0.3, "no": 0.55, "dont_know": 0.05, "prefer_not": 0.1}}
_REFERRAL: _Lean = {
    "__yes__": {"yes": 0.8, "no": 0.2},
    "referral_status": {
        "pending": 0.15,
        "accepted": 0.25,
        "in_progress": 0.25,
        "done": 0.25,
        "rejected": 0.1,
    },
    "legal_basis": {"none": 0.9, "child_protection": 0.05, "imminent_danger": 0.05},
}
_NEEDS: _Lean = {"__yes__": {"yes": 0.4, "no": 0.45, "dont_know": 0.1, "prefer_not": 0.05}}
_HOTLINE: _Lean = {
    "mode": "phone",
    "caller_agrees": {"yes": 0.85, "no": 0.15},
    "danger_now": {"no": 0.8, "yes": 0.1, "dont_know": 0.05, "prefer_not": 0.05},
    "callback_agreed": {"no": 0.7, "yes": 0.3},
}
_SHELTER: _Lean = {
    "stay_status": {"exited": 0.7, "in_shelter": 0.3},
    "exit_destination": {
        "family_reunification": 0.45,
        "independent_living": 0.2,
        "other_shelter": 0.15,
        "left_without_notice": 0.15,
        "other": 0.05,
    },
    "reintegration_status": {"settled": 0.4, "partly_settled": 0.35, "not_settled": 0.2},
}
_LEGAL: _Lean = {
    "__yes__": {"yes": 0.7, "no": 0.2, "dont_know": 0.1},
    "verdict": {"conviction": 0.4, "acquittal": 0.2, "pending": 0.4},
}
# Two courses of the demo's training, each with its topic and the profession trained.
_COURSES = (
    ("POL-2611", "victim_identification", "police"),
    ("SOC-2612", "trauma_informed_care", "social_worker"),
)
_SCORES = ("score_identification", "score_trauma_care", "score_referral", "score_investigation")
LEANINGS: dict[str, _Lean] = {
    "consent": _CONSENT,
    "adult_screening": _SCREENING,
    "youth_screening": _SCREENING,
    "referral": _REFERRAL,
    "needs_assessment": _NEEDS,
    "follow_up": {"__yes__": {"yes": 0.15, "no": 0.8, "dont_know": 0.05}},
    "hotline_intake": _HOTLINE,
    "shelter_stay": _SHELTER,
    "legal_outcome": _LEGAL,
}


def _weighted(rng: random.Random, weights: Mapping[str, float], names: list[str]) -> str | None:
    pool = [(n, w) for n, w in weights.items() if n in names]
    if not pool:
        return None
    return rng.choices([n for n, _ in pool], weights=[w for _, w in pool])[0]


def _pick(
    rng: random.Random,
    state: Any,
    *,
    lean: _Lean,
    fixed: Mapping[str, str],
    today: date,
    attempt: int,
) -> str | None:
    """One plausible answer for a question, or None to leave it empty.

    Later attempts (after the form's constraint refused earlier ones) widen the draw: every
    ordinary choice of a select_multiple, small whole numbers.
    """
    name, qtype = state.name, state.type.split(" ")[0]
    if name in fixed:
        return fixed[name]
    wanted = lean.get(name)
    names: list[str] = [str(c.name) for c in state.choices]
    if isinstance(wanted, str):
        return wanted
    if qtype == "select_one":
        if not names:
            return None
        if isinstance(wanted, Mapping):
            return _weighted(rng, wanted, names) or rng.choice(names)
        general = lean.get("__yes__")
        if isinstance(general, Mapping) and "yes" in names and "no" in names:
            return _weighted(rng, general, names) or rng.choice(names)
        return rng.choice(names)
    if qtype in ("select_multiple", "rank"):
        if not names:
            return None
        plain = [n for n in names if n not in ("dont_know", "prefer_not", "none", "other")]
        pool = plain or names
        if attempt >= 3:
            return " ".join(pool)
        chosen = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
        return " ".join(n for n in names if n in chosen)
    if qtype in ("integer", "decimal", "range"):
        return str(rng.randint(0, 40 if attempt < 3 else 5))
    if qtype == "date":
        # Later attempts come closer to today: "after the case opened, not in the future".
        span = 150 if attempt < 3 else 0
        return (today - timedelta(days=rng.randint(0, span))).isoformat()
    if qtype == "dateTime":
        return datetime.combine(today, datetime.min.time()).isoformat()
    if qtype == "time":
        return f"{rng.randint(8, 17):02d}:00:00.000+00:00"
    if qtype == "acknowledge":
        return "OK"
    if qtype in ("text", "barcode"):
        if name == "site":
            return rng.choice(SITES)
        return f"demo-{rng.randint(1000, 9999)}"
    return None


def synthetic_answers(
    form: Any,
    *,
    rng: random.Random,
    fixed: Mapping[str, str] | None = None,
    today: date | None = None,
) -> dict[str, str]:
    """Invented answers for ``form`` by question name, as an answers file would hold them.

    Questions are answered in navigation order, so relevance follows the answers given; an
    answer its constraint refuses is drawn again a few times, then left empty.
    """
    from fieldkit.forms import FormSession

    lean = LEANINGS.get(form.id, {})
    fixed = fixed or {}
    day = today or date.today()
    session = FormSession(form)
    seen: set[str] = set()
    for _ in range(20):
        pending = [
            q
            for q in session.questions()
            if q.path not in seen and q.kind == "question" and not q.readonly
        ]
        if not pending:
            break
        for state in pending:
            seen.add(state.path)
            # An earlier answer of this pass may have hidden this question.
            if not session.node(state.path).relevant:
                continue
            for attempt in range(8):
                value = _pick(rng, state, lean=lean, fixed=fixed, today=day, attempt=attempt)
                if value is None:
                    break
                try:
                    session.set(state.path, value)
                except AnswerError:
                    continue
                if session.node(state.path).constraint_valid:
                    break
                session.clear(state.path)
    by_name: dict[str, str] = {}
    for state in session.questions():
        if state.kind == "question" and state.value != "" and not state.readonly:
            by_name[state.name] = state.value
    return by_name


# ------------------------------------------------------------------------------ the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _local_server(data_dir: Path) -> Iterator[tuple[str, str]]:
    """A real server on SQLite on a free loopback port; yields (url, admin token)."""
    import uvicorn

    from sync.server.runner import init_server, uvicorn_config
    from sync.server.settings import ServerSettings

    settings = ServerSettings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    token = init_server(settings)
    port = _free_port()
    config = uvicorn_config(settings, host="127.0.0.1", port=port, log=False)
    assert isinstance(config, uvicorn.Config)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fieldkit-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServerError("the demo server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# --------------------------------------------------------------------------------- the run


def _capture(ws: Any, form_id: str, data: Mapping[str, str], counts: Counter[str]) -> Any:
    from fieldkit.capture import capture_answers

    record = capture_answers(ws, form_id, data=data, source="demo")
    counts[form_id] += 1
    return record


def _field_work(
    ws: Any,
    *,
    rng: random.Random,
    needs: int,
    screenings: int,
    result: DemoResult,
    step: Step,
) -> None:
    """Capture the synthetic interviews on the field laptop."""
    from fieldkit.capture import new_case_code

    forms = {fv.form_id: fv.form() for fv in ws.forms.list()}
    today = date.today()
    step(f"capturing {needs} needs assessments")
    for _ in range(needs):
        answers = synthetic_answers(forms["needs_assessment"], rng=rng, today=today)
        _capture(ws, "needs_assessment", answers, result.captured)
    step(f"capturing {screenings} consent interviews, screenings and referrals")
    for _ in range(screenings):
        person = new_case_code(ws)  # made by fieldkit, as at a real consent (DOMAIN §8)
        site = rng.choice(SITES)
        fixed = {"client_pseudonym": person, "site": site}
        consent = synthetic_answers(forms["consent"], rng=rng, fixed=fixed, today=today)
        record = _capture(ws, "consent", consent, result.captured)
        if record.answers.get("/data/consent_given") != "yes":
            result.refused_consent += 1
            continue
        route = record.answers.get("/data/route") or "adult"
        screening_id = "youth_screening" if route == "youth" else "adult_screening"
        shared = {**fixed, "age_band": consent.get("age_band", "")}
        shared = {k: v for k, v in shared.items() if v}
        answers = synthetic_answers(forms[screening_id], rng=rng, fixed=shared, today=today)
        screening = _capture(ws, screening_id, answers, result.captured)
        if screening.answers.get("/data/screen_result") == "positive":
            answers = synthetic_answers(forms["referral"], rng=rng, fixed=shared, today=today)
            try:
                _capture(ws, "referral", answers, result.captured)
            except FieldkitError:
                # A referral the form refuses (e.g. no consent to share, no legal basis) is a
                # valid outcome: the worker records it later or not at all.
                result.not_saved["referral"] += 1
            if rng.random() < 0.6:
                answers = synthetic_answers(forms["follow_up"], rng=rng, fixed=shared, today=today)
                try:
                    _capture(ws, "follow_up", answers, result.captured)
                except FieldkitError:
                    result.not_saved["follow_up"] += 1
            # Shelter stays and legal outcomes link to the person by their case code.
            for form_id, share in (("shelter_stay", 0.6), ("legal_outcome", 0.5)):
                if rng.random() < share:
                    answers = synthetic_answers(forms[form_id], rng=rng, fixed=shared, today=today)
                    _try_capture(ws, form_id, answers, result)


def _try_capture(ws: Any, form_id: str, data: Mapping[str, str], result: DemoResult) -> None:
    """Capture, or count as not saved an interview the form refuses (invented answers may
    miss a rule: the demo goes on)."""
    try:
        _capture(ws, form_id, data, result.captured)
    except FieldkitError:
        result.not_saved[form_id] += 1


def _programme_work(
    ws: Any, *, rng: random.Random, calls: int, result: DemoResult, step: Step
) -> None:
    """Capture hotline calls, awareness sessions and training tests (no consent needed).

    ``calls`` hotline calls, a third as many awareness sessions, and half as many trainees on
    each of two courses, each with a pre-test and a post-test under one training code.
    """
    forms = {fv.form_id: fv.form() for fv in ws.forms.list()}
    today = date.today()
    sessions, seats = max(1, calls // 3), max(1, calls // 2)
    step(f"capturing {calls} hotline calls, {sessions} awareness sessions, {2 * seats} trainees")
    for _ in range(calls):
        fixed = {"contact_hour": str(rng.randint(0, 23))}
        answers = synthetic_answers(forms["hotline_intake"], rng=rng, fixed=fixed, today=today)
        _try_capture(ws, "hotline_intake", answers, result)
    for _ in range(sessions):
        counts = {
            f"reached_{group}": str(rng.randint(3, 30))
            for group in ("female_minor", "female_adult", "male_minor", "male_adult")
        }
        took = rng.randint(5, 20)
        fixed = {
            **counts,
            "reached_other": str(rng.randint(0, 3)),
            "knowledge_check": "yes",
            "checked_count": str(took),
            "named_3_signs_count": str(rng.randint(took // 4, took)),
        }
        answers = synthetic_answers(forms["awareness_session"], rng=rng, fixed=fixed, today=today)
        _try_capture(ws, "awareness_session", answers, result)
    for course, topic, profession in _COURSES:
        site = rng.choice(SITES)
        for seat in range(1, seats + 1):
            for stage, low, high in (("pre", 1, 3), ("post", 2, 5)):
                fixed = {
                    "site": site,
                    "trainee_agrees": "yes",
                    "course_code": course,
                    "training_code": f"{course}-{seat % 100:02d}",
                    "course_topic": topic,
                    "trainee_profession": profession,
                    "test_stage": stage,
                    **{part: str(rng.randint(low, high)) for part in _SCORES},
                }
                answers = synthetic_answers(
                    forms["training_test"], rng=rng, fixed=fixed, today=today
                )
                _try_capture(ws, "training_test", answers, result)


def run_demo(
    *,
    root: Path | None = None,
    needs: int = 200,
    screenings: int = 50,
    calls: int = 24,
    seed: int = 2026,
    step: Step | None = None,
) -> DemoResult:
    """Run the whole job end to end in ``root`` (a new temporary folder by default).

    ``calls``: hotline calls to invent; awareness sessions and trainees scale with it."""
    from fieldkit.analysis import build_report, write_report
    from fieldkit.analysis.export import export_form
    from fieldkit.bundled import bundled_forms
    from fieldkit.exchange import create_project, enroll, make_code, publish_form, pull, sync
    from fieldkit.store import create_workspace

    say = step or (lambda _text: None)
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="fieldkit-demo-")) if root is None else root
    root.mkdir(parents=True, exist_ok=True)
    passphrase = "demo " + secrets.token_urlsafe(18)
    (root / PASSPHRASE_FILE).write_text(passphrase + "\n", encoding="utf-8")
    (root / PASSPHRASE_FILE).chmod(0o600)
    # Invented interviews, reproducible by seed: not a secret, so not a CSPRNG.
    rng = random.Random(seed)  # noqa: S311

    with _local_server(root / "server") as (url, admin_token):
        result = DemoResult(root=root, server_url=url)
        say(f"server on SQLite at {url}")
        coordinator, _ = create_workspace(root / "coordinator", passphrase=passphrase)
        field_ws, _ = create_workspace(root / "field", passphrase=passphrase)
        with coordinator, field_ws:
            create_project(
                coordinator,
                "Demo programme",
                server=url,
                admin_token=admin_token,
                insecure_http=False,
                device_name="coordinator laptop",
            )
            say("project created; its private keys stay on the coordinator's laptop")
            for _name, path in sorted(bundled_forms().items()):
                publish_form(coordinator, path)
            say(f"published {len(bundled_forms())} bundled forms")
            code = make_code(coordinator, role="field", expires_seconds=3600)
            enroll(field_ws, url, str(code.code), name="field laptop")
            say("field laptop enrolled (it checked the project's fingerprint)")
            sync(coordinator)
            say("coordinator certified the field laptop")
            _field_work(
                field_ws, rng=rng, needs=needs, screenings=screenings, result=result, step=say
            )
            _programme_work(field_ws, rng=rng, calls=calls, result=result, step=say)
            summary = sync(field_ws)
            result.pushed = summary.sent + summary.already_on_server
            say(summary.line())
            pulled = pull(coordinator)
            result.pulled = pulled.records
            say(pulled.line())
            export_dir = root / "exports"
            for form_id in sorted({fv.form_id for fv in coordinator.forms.list()}):
                written = export_form(coordinator, form_id, fmt="csv", out_dir=export_dir)
                result.exported[form_id] = dict(written.rows)
            result.export_dir = export_dir
            say(f"exported CSV to {export_dir}")
            report = build_report(coordinator)
            result.report = write_report(report, root / "report.html")
            result.indicators = len(report.indicators)
            say(f"report written to {result.report}")
    result.seconds = time.monotonic() - started
    return result
