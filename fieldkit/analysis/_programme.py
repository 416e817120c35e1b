"""Indicators of the rest of the programme (DOMAIN §9): awareness sessions, the hotline,
shelters, legal outcomes and training.

Same rules as ``indicators.py``, whose helpers these use: fields found by name, an indicator
whose form or fields are absent reported as not available, every figure published through
``_cells``. Awareness sessions are counts with no person behind a row, published as they are
(DOMAIN §10); everything else counts people (or their records) and is protected.
A skipped or "don't know" answer is left out of a rate, never counted as a "no".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fieldkit.analysis._cells import Protection, Raw, publish
from fieldkit.analysis.indicators import (
    Indicator,
    Labels,
    _breakdown,
    _counted,
    _dims,
    _has,
    _new,
    _people,
    _rated,
    _rows,
    _text,
    _tokens,
    _unavailable,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["awareness", "hotline", "legal", "shelter", "training"]

Frames = Mapping[str, "pd.DataFrame"]

# awareness_session count field → (sex, minor) of the people it counts; "other" is neither.
_REACHED = {
    "reached_female_minor": ("female", "minor"),
    "reached_female_adult": ("female", "adult"),
    "reached_male_minor": ("male", "minor"),
    "reached_male_adult": ("male", "adult"),
    "reached_other": (None, None),
}
_SAFE = ("yes", "no")
_REINTEGRATION = ("settled", "partly_settled", "not_settled")
_VERDICTS = ("conviction", "acquittal")


def _number(frame: pd.DataFrame, column: str) -> pd.Series[float]:
    """A count column as numbers, blank and negative as 0 (the form refuses negatives)."""
    import pandas as pd

    return pd.to_numeric(frame[column], errors="coerce").fillna(0).clip(lower=0)


def _minor(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``minor`` column (minor | adult | unknown) from ``is_minor``."""
    return frame.assign(
        minor=_text(frame, "is_minor").map({"yes": "minor", "no": "adult"}).fillna("unknown")
    )


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per person: their latest record (by day, then as stored)."""
    return frame.sort_values("_date", kind="stable").drop_duplicates("_person", keep="last")


def _known(frame: pd.DataFrame, column: str, values: tuple[str, ...], yes: str) -> pd.DataFrame:
    """The rows whose ``column`` is one of ``values``, flagged where it is ``yes``."""
    answer = _text(frame, column)
    kept = frame[answer.isin(values)].copy()
    kept["_flag"] = _text(kept, column) == yes
    return kept


def awareness(period: Frames, rules: Protection, labels: Labels) -> list[Indicator]:
    """Sessions held, people reached (by sex, minor or adult), % naming ≥ 3 warning signs."""
    import pandas as pd

    rules = Protection.anonymous(rules)
    sessions = _new("awareness_sessions")
    reached = _new("awareness_participants")
    signs = _new("awareness_warning_signs_3")
    inds = [sessions, reached, signs]
    why = _has(
        period, "awareness_session", "event_type", "knowledge_check", "checked_count",
        "named_3_signs_count", *_REACHED,
    )  # fmt: skip
    if why:
        return [_unavailable(i, why) for i in inds]
    aw = period["awareness_session"]
    _counted(sessions, aw, rules=rules, labels=labels, size=_rows, dims=("event_type", "site"))
    # One row per session and count field: a breakdown by sex or age is then a sum of rows.
    cells = [
        aw.assign(sex=sex, minor=minor, _reached=_number(aw, column))
        for column, (sex, minor) in _REACHED.items()
    ]
    long = pd.concat(cells, ignore_index=True)

    def people(sub: pd.DataFrame) -> int:
        return int(sub["_reached"].sum())

    _counted(reached, long, rules=rules, labels=labels, size=people,
             dims=("sex", "minor", "event_type", "site"))  # fmt: skip
    checked = aw[_text(aw, "knowledge_check") == "yes"]
    checked = checked.assign(
        _num=_number(checked, "named_3_signs_count"), _den=_number(checked, "checked_count")
    )

    def rate(sub: pd.DataFrame, key: str) -> Raw:
        return Raw(key, int(sub["_num"].sum()), int(sub["_den"].sum()))

    def participants(sub: pd.DataFrame) -> int:
        return int(sub["_den"].sum())

    total = rate(checked, "all")
    signs.total, _ = publish("percent", total, [], rules, partition=True)
    signs.anonymous = True
    for dim in _dims(checked, ("event_type", "site")):
        _breakdown(signs, checked, dim, raw=rate, size=participants, total=total, rules=rules,
                   labels=labels)  # fmt: skip
    return inds


def hotline(period: Frames, rules: Protection, labels: Labels) -> list[Indicator]:
    """Hotline contacts by type, and the share referred."""
    contacts = _new("hotline_contacts")
    referred = _new("hotline_referred")
    why = _has(period, "hotline_intake", "caller_type", "channel", "concern_type", "referred")
    if why:
        return [_unavailable(contacts, why), _unavailable(referred, why)]
    calls = period["hotline_intake"].copy()
    calls["concern_type"] = _tokens(calls, "concern_type")
    _counted(contacts, calls, rules=rules, labels=labels, size=_rows,
             dims=("caller_type", "channel", "concern_type", "site"),
             multi=("concern_type",))  # fmt: skip
    known = _known(calls, "referred", _SAFE, "yes")
    _rated(referred, known, "_flag", rules=rules, labels=labels, per_person=False,
           dims=("caller_type", "site"))  # fmt: skip
    return [contacts, referred]


def shelter(period: Frames, rules: Protection, labels: Labels) -> list[Indicator]:
    """Admissions, length of stay, exits to a safe destination, settled at exit."""
    import pandas as pd

    admitted = _new("shelter_admissions")
    length = _new("shelter_length_of_stay")
    safe = _new("shelter_safe_exit")
    settled = _new("shelter_reintegration")
    inds = [admitted, length, safe, settled]
    why = _has(
        period, "shelter_stay", "stay_status", "length_of_stay_days", "safe_exit",
        "reintegration_status",
    )  # fmt: skip
    if why:
        return [_unavailable(i, why) for i in inds]
    stays = _minor(period["shelter_stay"])
    _counted(admitted, stays, rules=rules, labels=labels, size=_people,
             dims=("referring_organisation", "sex", "minor", "site"))  # fmt: skip
    exits = stays[_text(stays, "stay_status") == "exited"]
    days = pd.to_numeric(exits["length_of_stay_days"], errors="coerce")
    ended = exits.assign(_days=days)[days.notna() & (days >= 0)]

    def median(sub: pd.DataFrame, key: str) -> Raw:
        return Raw(key, values=tuple(int(x) for x in sub["_days"]))

    total = median(ended, "all")
    length.total, _ = publish("days", total, [], rules, partition=True)
    for dim in _dims(ended, ("exit_destination", "site")):
        _breakdown(length, ended, dim, raw=median, size=_rows, total=total, rules=rules,
                   labels=labels)  # fmt: skip
    _rated(safe, _known(exits, "safe_exit", _SAFE, "yes"), "_flag", rules=rules,
           labels=labels, per_person=False, dims=("minor", "site"))  # fmt: skip
    _rated(settled, _known(exits, "reintegration_status", _REINTEGRATION, "settled"), "_flag",
           rules=rules, labels=labels, per_person=False, dims=("site",))  # fmt: skip
    return inds


def legal(period: Frames, rules: Protection, labels: Labels) -> list[Indicator]:
    """Prosecutions ending in conviction; victim-witnesses supported (latest record each)."""
    convicted = _new("prosecutions_convicted")
    support = _new("victim_witness_support")
    why = _has(period, "legal_outcome", "verdict", "victim_witness_support")
    if why:
        return [_unavailable(convicted, why), _unavailable(support, why)]
    people = _latest(period["legal_outcome"])
    dims = ("sex", "site")
    _rated(convicted, _known(people, "verdict", _VERDICTS, "conviction"), "_flag", rules=rules,
           labels=labels, per_person=True, dims=dims)  # fmt: skip
    _rated(support, _known(people, "victim_witness_support", _SAFE, "yes"), "_flag",
           rules=rules, labels=labels, per_person=True, dims=dims)  # fmt: skip
    return [convicted, support]


def legal_stages(period: Frames) -> pd.DataFrame | None:
    """Each legal-outcome record's stage as the referral form's ``case_outcome`` names it."""
    if _has(period, "legal_outcome", "legal_stage"):
        return None
    lo = period["legal_outcome"]
    # "complaint" comes before an investigation: no stage the prosecution figures count.
    return lo.assign(case_outcome=_text(lo, "legal_stage").replace("complaint", "none"))


def training(period: Frames, rules: Protection, labels: Labels) -> list[Indicator]:
    """Trainees, and the mean pre→post gain per course (never a person's score)."""
    import pandas as pd

    trainees = _new("trainees")
    gain = _new("training_score_gain")
    why = _has(period, "training_test", "trainee_agrees", "course_code", "training_code",
               "test_stage", "score_percent")  # fmt: skip
    if why:
        return [_unavailable(trainees, why), _unavailable(gain, why)]
    tt = period["training_test"]
    took = tt[_text(tt, "trainee_agrees") == "yes"].copy()
    # A trainee is their training code within a course: the unit counted, never named.
    took["_person"] = _text(took, "course_code") + "/" + _text(took, "training_code")
    took = took.dropna(subset=["_person"])
    _counted(trainees, took, rules=rules, labels=labels, size=_people,
             dims=("course_topic", "trainee_profession", "site"))  # fmt: skip
    scored = took.assign(_score=pd.to_numeric(took["score_percent"], errors="coerce"))
    scored = scored.dropna(subset=["_score"])
    stage = _text(scored, "test_stage")
    pre = _latest(scored[stage == "pre"]).set_index("_person")["_score"].rename("_pre")
    post = _latest(scored[stage == "post"]).set_index("_person")
    pairs = post.join(pre, how="inner").reset_index()
    pairs["_gain"] = pairs["_score"] - pairs["_pre"]

    def mean(sub: pd.DataFrame, key: str) -> Raw:
        return Raw(key, values=tuple(int(round(x)) for x in sub["_gain"]))

    total = mean(pairs, "all")
    gain.total, _ = publish("points", total, [], rules, partition=True)
    for dim in _dims(pairs, ("course_topic", "course_code")):
        _breakdown(gain, pairs, dim, raw=mean, size=_people, total=total, rules=rules,
                   labels=labels)  # fmt: skip
    return [trainees, gain]
