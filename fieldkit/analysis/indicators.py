"""The programme's indicators (DOMAIN §7, §9) from the bundled forms' tables, ready to publish.

Input: the form table of each bundled form (``tables(..., select_multiple="summary")``, names
as headers, sensitive fields left out), keyed by form id. Fields are found BY NAME (the names
are a contract: /tmp/team/FIELDS.md, issue 7), so a group moved in a new form version changes
nothing here. An indicator whose forms or fields are absent is reported as not available with
the reason, never computed from half the data.

People are counted once: a person is their ``client_pseudonym`` (else the record's case id,
else the record itself). A person whose consent record refuses use in anonymous statistics
(``consent_stats`` = no on their latest consent record) is left out of every figure, linked
by ``client_pseudonym``; records without one (the anonymous needs assessment) are unaffected.
Every figure leaves through ``_cells`` (suppression below k, rounding down to the resolution);
categories with fewer than k people are pooled as "other" before that, so a one-off site code
or a rare citizenship never appears as its own row. The forms of the rest of the programme
(hotline, awareness, training, shelter, legal outcome) are read in ``_programme``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from fieldkit.analysis._catalogue import CATALOGUE
from fieldkit.analysis._cells import Figure, Protection, Raw, publish

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORM_IDS",
    "Indicator",
    "IndicatorSet",
    "compute_indicators",
]

FORM_IDS = (
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
)
SCREENINGS = ("adult_screening", "youth_screening")
# Forms with no person behind a row: the community needs assessment (no name, no case code)
# and the awareness session (aggregate counts of an event).
ANONYMOUS_FORMS = frozenset({"needs_assessment", "awareness_session"})
OTHER = "other"  # a real answer ("Other"), never the pool of small groups
SMALL_GROUPS = "_small_groups"  # categories too small to show alone, combined and labelled
NOT_RECORDED = "not recorded"
# What the page calls the two categories of its own, by language code.
OWN_LABELS = {
    "en": {SMALL_GROUPS: "Small groups combined", NOT_RECORDED: "Not recorded"},
    "fr": {SMALL_GROUPS: "Petits groupes regroupés", NOT_RECORDED: "Non renseigné"},
}

# Display order of known categories (CTDC codes, DOMAIN §6); anything else sorts after them.
_ORDER: dict[str, tuple[str, ...]] = {
    "sex": ("female", "male", "other", "prefer_not"),
    "age_band": (
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
    ),
    "minor": ("minor", "adult", "unknown"),
    "visit_month": ("1", "3", "6", "12"),
    "stage": ("investigation", "prosecution", "conviction"),
    "test_stage": ("pre", "post"),
}
_BASIC_DIMS = ("site", "sex", "age_band")
_ACCEPTED = ("accepted", "in_progress", "done")
_SERVED = ("in_progress", "done")
_EMERGENCY = ("shelter", "emergency_extraction", "emergency_transport")
_NOT_A_SIGN = {"none", "dont_know", "prefer_not"}
# A screening with one of these results screened the person; an empty result (a young person
# who declined, youth_refused = yes) did not (forms/README.md, youth_screening).
_RESULTS = ("positive", "negative", "inconclusive")
_STAGES = ("none", "investigation", "prosecution", "conviction")


@dataclass
class Indicator:
    """One indicator: what it means, and its published figures overall and by category."""

    key: str
    area: str
    title: str
    definition: str
    numerator: str
    denominator: str
    unit: str  # count | percent | days | per_case | points
    available: bool = True
    missing: str | None = None
    total: Figure | None = None
    breakdowns: dict[str, list[Figure]] = field(default_factory=dict)
    # Breakdowns not shown because too few of their groups could be published on their own.
    omitted: list[str] = field(default_factory=list)
    anonymous: bool = False  # counts of an anonymous survey: published exactly

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (only published figures)."""
        return {
            "key": self.key,
            "area": self.area,
            "title": self.title,
            "definition": self.definition,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "unit": self.unit,
            "available": self.available,
            "missing": self.missing,
            "total": self.total.as_dict() if self.total else None,
            "breakdowns": {
                dim: [f.as_dict() for f in figures] for dim, figures in self.breakdowns.items()
            },
            "omitted_breakdowns": list(self.omitted),
            "anonymous": self.anonymous,
        }


@dataclass
class IndicatorSet:
    """All indicators for one period under one set of publishing rules."""

    date_from: date | None
    date_to: date | None
    rules: Protection
    indicators: list[Indicator]
    records: dict[str, int | str]  # published record count per form in the period
    # The title block: what the report is about and who made it (none of it is data).
    programme: str | None = None
    organisation: str | None = None
    lang: str = "en"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "period": {
                "from": self.date_from.isoformat() if self.date_from else None,
                "to": self.date_to.isoformat() if self.date_to else None,
            },
            "programme": self.programme,
            "organisation": self.organisation,
            "language": self.lang,
            "min_cell": self.rules.k,
            "resolution": self.rules.resolution,
            "records": self.records,
            "indicators": [i.as_dict() for i in self.indicators],
        }


# -------------------------------------------------------------------------- preparing


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``_person`` and ``_date`` (interview_date, else capture day) to a form table."""
    import pandas as pd

    out = frame.copy()
    person = pd.Series([None] * len(out), index=out.index, dtype="str")
    for column, prefix in (("client_pseudonym", "p:"), ("_case_id", "c:"), ("_id", "r:")):
        if column in out.columns:
            person = person.fillna(prefix + _text(out, column))
    out["_person"] = person
    day = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    for column in ("interview_date", "_capture_day"):
        if column in out.columns:
            day = day.fillna(_days(out, column))
    out["_date"] = day
    return out


def _refused_statistics(consent: pd.DataFrame | None) -> set[str]:
    """Case codes whose latest consent record answers ``consent_stats`` = no.

    Latest by interview day, then finalization time: a person may change their mind either
    way, and their most recent answer is the one that holds.
    """
    if consent is None or not {"client_pseudonym", "consent_stats"} <= set(consent.columns):
        return set()
    work = consent.assign(
        _code=_text(consent, "client_pseudonym"), _stats=_text(consent, "consent_stats")
    ).dropna(subset=["_code", "_stats"])
    order = [c for c in ("_date", "_finalized_at") if c in work.columns]
    if order:
        work = work.sort_values(order, kind="stable", na_position="first")
    latest = work.groupby("_code", sort=False)["_stats"].last()
    return {str(code) for code in latest[latest == "no"].index}


def _without(frame: pd.DataFrame, codes: set[str]) -> pd.DataFrame:
    """``frame`` without the records of the case codes in ``codes``."""
    if not codes or "client_pseudonym" not in frame.columns:
        return frame
    return frame[~_text(frame, "client_pseudonym").isin(codes)]


def _in_period(frame: pd.DataFrame, date_from: date | None, date_to: date | None) -> pd.DataFrame:
    import pandas as pd

    keep = pd.Series(True, index=frame.index)
    if date_from is not None:
        keep &= frame["_date"] >= pd.Timestamp(date_from)
    if date_to is not None:
        keep &= frame["_date"] <= pd.Timestamp(date_to)
    if date_from is not None or date_to is not None:
        keep &= frame["_date"].notna()
    return frame[keep]


def _as_text(values: pd.Series[Any]) -> pd.Series[Any]:
    """Any column as text (numbers as their usual text), missing values kept missing."""
    import pandas as pd

    if values.dtype != object and pd.api.types.is_string_dtype(values.dtype):
        return values
    return values.map(lambda v: None if v is None or bool(pd.isna(v)) else str(v)).astype("str")


def _text(frame: pd.DataFrame, column: str) -> pd.Series[Any]:
    """A column as stripped text, blank where absent or empty."""
    import pandas as pd

    if column not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype="str")
    values = _as_text(frame[column]).str.strip()
    return values.where(values.str.len() > 0)


def _days(frame: pd.DataFrame, column: str) -> pd.Series[Any]:
    """A date column (typed by the export, or text) as day timestamps, NaT where blank."""
    import pandas as pd

    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        days: pd.Series[Any] = values.dt.normalize().astype("datetime64[ns]")
        return days
    parsed = pd.to_datetime(_text(frame, column), errors="coerce", format="%Y-%m-%d")
    return parsed.astype("datetime64[ns]")


def _tokens(frame: pd.DataFrame, column: str) -> pd.Series[Any]:
    """A select_multiple summary column as lists of choice names (empty list when blank)."""
    return _text(frame, column).fillna("").str.split()


def _has(frames: Mapping[str, pd.DataFrame], form: str, *fields: str) -> str | None:
    """Why an indicator cannot be computed, or None when its form and fields are there."""
    if form not in frames:
        return f"no {form} form in this workspace"
    absent = [f for f in fields if f not in frames[form].columns]
    if absent:
        return f"the {form} form has no field {absent[0]}"
    return None


# ------------------------------------------------------------------------- breakdowns


def _category(values: pd.Series[Any]) -> pd.Series[Any]:
    text = _as_text(values).str.strip()
    return text.where(text.str.len() > 0).fillna(NOT_RECORDED)


Labels = Mapping[str, Mapping[str, str]]


def _breakdown(
    ind: Indicator,
    units: pd.DataFrame,
    dim: str,
    *,
    raw: Callable[[pd.DataFrame, str], Raw],
    size: Callable[[pd.DataFrame], int],
    total: Raw,
    rules: Protection,
    labels: Labels,
    multi: bool = False,
) -> None:
    """Figures by category of ``dim``: categories with fewer than k units are combined into
    "Small groups combined", then the cells are published together with the total (so a
    withheld cell cannot be worked out from the others). A breakdown with fewer than two
    published figures says nothing a reader may use: it is left out, and named as such."""
    if dim not in units.columns:
        return
    work = units.explode(dim) if multi else units.copy()
    work[dim] = _category(work[dim])
    if rules.people:
        sizes = {cat: size(work[work[dim] == cat]) for cat in work[dim].unique()}
        small = {cat for cat, n in sizes.items() if n < rules.k}
        if small:
            work[dim] = work[dim].where(~work[dim].isin(small), SMALL_GROUPS)
    order = _ORDER.get(dim, ())
    cats = list(work[dim].unique())

    def rank(cat: str) -> tuple[int, int, str]:
        if cat in order:
            return (0, order.index(cat), cat)
        return (2 if cat in (SMALL_GROUPS, NOT_RECORDED) else 1, 0, cat)

    cells = [raw(work[work[dim] == cat], str(cat)) for cat in sorted(cats, key=rank)]
    names = {**labels.get("*", {}), **labels.get(dim, {})}
    _, figures = publish(ind.unit, total, cells, rules, partition=not multi, labels=names)
    if sum(1 for f in figures if isinstance(f.value, int | float)) < 2 and rules.people:
        ind.omitted.append(dim)
        return
    ind.breakdowns[dim] = figures


def _people(units: pd.DataFrame) -> int:
    return int(units["_person"].nunique())


def _rows(units: pd.DataFrame) -> int:
    # Distinct records, not exploded rows: a referral asking for three services combined
    # with small groups is still one referral.
    return int(units["_id"].nunique()) if "_id" in units.columns else len(units)


def _dims(units: pd.DataFrame, dims: Sequence[str]) -> list[str]:
    return [d for d in dims if d in units.columns]


def _counted(
    ind: Indicator,
    units: pd.DataFrame,
    *,
    rules: Protection,
    labels: Labels,
    size: Callable[[pd.DataFrame], int],
    dims: Sequence[str] = _BASIC_DIMS,
    multi: Sequence[str] = (),
) -> Indicator:
    def raw(sub: pd.DataFrame, key: str) -> Raw:
        return Raw(key, num=size(sub))

    total = raw(units, "all")
    ind.total, _ = publish("count", total, [], rules, partition=True)
    ind.anonymous = not rules.people
    for dim in _dims(units, dims):
        _breakdown(ind, units, dim, raw=raw, size=size, total=total, rules=rules,
                   labels=labels, multi=dim in multi)  # fmt: skip
    return ind


def _rated(
    ind: Indicator,
    units: pd.DataFrame,
    flag: str,
    *,
    rules: Protection,
    labels: Labels,
    per_person: bool,
    dims: Sequence[str] = _BASIC_DIMS,
) -> Indicator:
    """A percentage of units (people or records) with ``flag`` true."""

    def raw(sub: pd.DataFrame, key: str) -> Raw:
        if per_person:
            return Raw(key, int(sub.loc[sub[flag], "_person"].nunique()), _people(sub))
        return Raw(key, int(sub[flag].sum()), len(sub))

    size = _people if per_person else _rows
    total = raw(units, "all")
    ind.total, _ = publish(ind.unit, total, [], rules, partition=True)
    ind.anonymous = not rules.people
    for dim in _dims(units, dims):
        _breakdown(ind, units, dim, raw=raw, size=size, total=total, rules=rules,
                   labels=labels)  # fmt: skip
    return ind


# ------------------------------------------------------------------------- indicators


def compute_indicators(
    frames: Mapping[str, pd.DataFrame],
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    rules: Protection | None = None,
    labels: Labels | None = None,
    follow_ups: pd.DataFrame | None = None,
    withdrawn: set[str] | None = None,
) -> IndicatorSet:
    """Every DOMAIN §7 and §9 indicator the tables support, with published (protected) figures.

    ``labels``: for each breakdown, category → label in the report's language (``"*"`` for
    the page's own "Small groups combined" and "Not recorded"). ``withdrawn``: case codes
    whose person withdrew the statistics scope since (a coordinator's signed order): left out
    like a refusal. ``follow_ups``: the cases' follow-up schedule
    (``fieldkit.analysis._case_facts``), read instead of the follow_up form's records by the
    follow-up indicators."""
    rules = rules or Protection()
    labels = labels or {"*": OWN_LABELS["en"]}
    prepared = {form: _prepare(frame) for form, frame in frames.items()}
    # Refusals are read from every consent record, not only the period's: a refusal recorded
    # before the period still holds for the person's later records (DOMAIN §4, limit use).
    refused = _refused_statistics(prepared.get("consent")) | (withdrawn or set())
    prepared = {form: _without(frame, refused) for form, frame in prepared.items()}
    period = {form: _in_period(f, date_from, date_to) for form, f in prepared.items()}
    # Imported here: _programme builds on this module's helpers.
    from fieldkit.analysis import _programme as programme

    out: list[Indicator] = []
    out += _prevention(period, rules, labels)
    out += programme.awareness(period, rules, labels)
    out += _protection(period, prepared, rules, labels)
    if follow_ups is not None:
        import pandas as pd

        # A person with a case is counted from its schedule; a follow-up record of no case
        # (a code fieldkit did not make) still counts as recorded.
        schedule = _in_period(_without(_prepare(follow_ups), refused), date_from, date_to)
        recorded = period.get("follow_up")
        if recorded is not None:
            alone = recorded[~recorded["_person"].isin(set(schedule["_person"]))]
            if not len(schedule):
                schedule = alone
            elif len(alone):
                schedule = pd.concat([alone, schedule], ignore_index=True)
        out += _follow_ups({**period, "follow_up": schedule}, rules, labels)
    else:
        out += _follow_ups(period, rules, labels)
    out += programme.hotline(period, rules, labels)
    out += programme.shelter(period, rules, labels)
    out += _prosecution(period, rules, labels)
    out += programme.legal(period, rules, labels)
    out += _partnership(period, rules, labels)
    out += programme.training(period, rules, labels)
    # An anonymous survey's records are no people: counted as they are (DOMAIN §10).
    records = {
        form: (Protection.anonymous(rules) if form in ANONYMOUS_FORMS else rules).count(len(f))
        for form, f in period.items()
    }
    return IndicatorSet(date_from, date_to, rules, out, records)


def _new(key: str) -> Indicator:
    meaning = CATALOGUE[key]
    return Indicator(key, *meaning)


def _unavailable(ind: Indicator, why: str) -> Indicator:
    ind.available = False
    ind.missing = why
    return ind


def _prevention(
    period: Mapping[str, pd.DataFrame], rules: Protection, labels: Labels
) -> list[Indicator]:
    import pandas as pd

    rules = Protection.anonymous(rules)
    reached = _new("people_reached")
    why = _has(period, "needs_assessment", "awareness_reached")
    if why:
        out = [_unavailable(reached, why)]
    else:
        na = period["needs_assessment"]
        units = na.assign(
            _reached=pd.to_numeric(na["awareness_reached"], errors="coerce").fillna(0).clip(lower=0)
        )

        def total(sub: pd.DataFrame) -> int:
            return int(sub["_reached"].sum())

        out = [_counted(reached, units, rules=rules, labels=labels, size=total, dims=("site",))]
    signs = _new("warning_signs_3")
    why = _has(period, "needs_assessment", "warning_signs_known")
    if why:
        out.append(_unavailable(signs, why))
    else:
        na = period["needs_assessment"]
        tokens = _tokens(na, "warning_signs_known")
        answered = na[tokens.str.len() > 0].copy()
        answered["_flag"] = (
            tokens[tokens.str.len() > 0]
            .map(lambda t: len([x for x in t if x not in _NOT_A_SIGN]) >= 3)
            .astype(bool)
        )
        out.append(
            _rated(
                signs,
                answered,
                "_flag",
                rules=rules,
                labels=labels,
                per_person=False,
                dims=("site",),
            )
        )
    return out


def _screenings(period: Mapping[str, pd.DataFrame]) -> pd.DataFrame | None:
    import pandas as pd

    parts = []
    for form in SCREENINGS:
        if form in period and "screen_result" in period[form].columns:
            parts.append(period[form].assign(form=form))
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True)


def _protection(
    period: Mapping[str, pd.DataFrame],
    everything: Mapping[str, pd.DataFrame],
    rules: Protection,
    labels: Labels,
) -> list[Indicator]:
    screened = _new("people_screened")
    positive_rate = _new("screen_positive_rate")
    victims = _new("presumed_victims")
    out = [screened, positive_rate, victims]
    screens = _screenings(period)
    if screens is None:
        for ind in out:
            _unavailable(ind, "no adult_screening or youth_screening form with screen_result")
        out.insert(1, _declined(period, set(), rules, labels))
    else:
        result = _text(screens, "screen_result")
        with_result = screens[result.isin(_RESULTS)].copy()
        _counted(
            screened,
            with_result,
            rules=rules,
            labels=labels,
            size=_people,
            dims=("form", *_BASIC_DIMS),
        )
        out.insert(1, _declined(period, set(with_result["_person"]), rules, labels))
        with_result["_flag"] = _text(with_result, "screen_result") == "positive"
        _rated(
            positive_rate,
            with_result,
            "_flag",
            rules=rules,
            labels=labels,
            per_person=True,
            dims=("form", *_BASIC_DIMS),
        )
        positive = screens[result == "positive"].copy()
        minor = _text(positive, "is_minor").map({"yes": "minor", "no": "adult"})
        positive["minor"] = minor.fillna("unknown")
        positive["exploitation_type"] = _tokens(positive, "exploitation_type")
        _counted(
            victims,
            positive,
            rules=rules,
            labels=labels,
            size=_people,
            dims=("sex", "minor", "exploitation_type", "citizenship", "site"),
            multi=("exploitation_type",),
        )
    out += _referrals(period, rules, labels)
    out += _services(period, everything, rules, labels)
    return out


def _declined(
    period: Mapping[str, pd.DataFrame], screened: set[str], rules: Protection, labels: Labels
) -> Indicator:
    """Young people who declined the youth screening and were not screened in the period."""
    ind = _new("youth_screening_declined")
    why = _has(period, "youth_screening", "youth_refused")
    if why:
        return _unavailable(ind, why)
    youth = period["youth_screening"]
    declined = youth[(_text(youth, "youth_refused") == "yes") & ~youth["_person"].isin(screened)]
    return _counted(ind, declined, rules=rules, labels=labels, size=_people)


def _referrals_made(period: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    ref = period["referral"]
    made = ref[_text(ref, "can_send") == "yes"].copy()
    made["service_type"] = _tokens(made, "service_types")
    return made


def _referrals(
    period: Mapping[str, pd.DataFrame], rules: Protection, labels: Labels
) -> list[Indicator]:
    made_ind = _new("referrals_made")
    accepted = _new("referrals_accepted")
    completed = _new("referrals_completed")
    emergency = _new("emergency_requests")
    inds = [made_ind, accepted, completed, emergency]
    why = _has(period, "referral", "can_send", "service_types", "referral_status")
    if why:
        return [_unavailable(i, why) for i in inds]
    made = _referrals_made(period)
    _counted(
        made_ind,
        made,
        rules=rules,
        labels=labels,
        size=_rows,
        dims=("service_type", *_BASIC_DIMS),
        multi=("service_type",),
    )
    status = _text(made, "referral_status")
    made["_accepted"] = status.isin(_ACCEPTED)
    made["_done"] = status == "done"
    _rated(accepted, made, "_accepted", rules=rules, labels=labels, per_person=False)
    _rated(completed, made, "_done", rules=rules, labels=labels, per_person=False)
    urgent = made.copy()
    urgent["emergency_type"] = urgent["service_type"].map(
        lambda t: [x for x in t if x in _EMERGENCY]
    )
    urgent = urgent[urgent["emergency_type"].str.len() > 0]
    _counted(
        emergency,
        urgent,
        rules=rules,
        labels=labels,
        size=_rows,
        dims=("emergency_type", "site"),
        multi=("emergency_type",),
    )
    return inds


def _services(
    period: Mapping[str, pd.DataFrame],
    everything: Mapping[str, pd.DataFrame],
    rules: Protection,
    labels: Labels,
) -> list[Indicator]:

    served = _new("identified_receiving_service")
    days = _new("days_to_first_service")
    screens = _screenings(period)
    why = _has(everything, "referral", "referral_status", "service_start_date")
    if screens is None:
        why = "no adult_screening or youth_screening form with screen_result"
    if why:
        return [_unavailable(served, why), _unavailable(days, why)]
    assert screens is not None
    positive = screens[_text(screens, "screen_result") == "positive"]
    positive = positive.sort_values("_date", kind="stable")
    people = (
        positive.groupby("_person", sort=False)
        .agg(
            _identified=("_date", "min"),
            **{d: (d, "last") for d in _BASIC_DIMS if d in positive.columns},
        )
        .reset_index()
    )
    ref = everything["referral"]
    start = _days(ref, "service_start_date")
    started = ref[start.notna() | _text(ref, "referral_status").isin(_SERVED)]
    people["_flag"] = people["_person"].isin(set(started["_person"]))
    _rated(served, people, "_flag", rules=rules, labels=labels, per_person=True)
    first = ref.assign(_start=start).dropna(subset=["_start"]).groupby("_person")["_start"].min()
    joined = people.join(first, on="_person", how="inner")
    gap = (joined["_start"] - joined["_identified"]).dt.days
    joined = joined.assign(_days=gap)[gap >= 0]

    def median(sub: pd.DataFrame, key: str) -> Raw:
        return Raw(key, values=tuple(int(x) for x in sub["_days"]))

    total = median(joined, "all")
    days.total, _ = publish("days", total, [], rules, partition=True)
    for dim in _dims(joined, _BASIC_DIMS):
        _breakdown(days, joined, dim, raw=median, size=_people, total=total, rules=rules,
                   labels=labels)  # fmt: skip
    return [served, days]


def _follow_ups(
    period: Mapping[str, pd.DataFrame], rules: Protection, labels: Labels
) -> list[Indicator]:

    per_case = _new("follow_ups_per_case")
    on_time = _new("follow_ups_on_time")
    closure = _new("case_closure_rate")
    inds = [per_case, on_time, closure]
    why = _has(period, "follow_up", "visit_status", "due_date", "visit_date", "case_closed")
    if why:
        return [_unavailable(i, why) for i in inds]
    fu = period["follow_up"].copy()
    status = _text(fu, "visit_status")
    fu["_done"] = status == "done"

    def per_person(sub: pd.DataFrame, key: str) -> Raw:
        return Raw(key, int(sub["_done"].sum()), _people(sub))

    total = per_person(fu, "all")
    per_case.total, _ = publish("per_case", total, [], rules, partition=True)
    for dim in _dims(fu, ("site",)):
        _breakdown(per_case, fu, dim, raw=per_person, size=_people, total=total, rules=rules,
                   labels=labels)  # fmt: skip
    due = _days(fu, "due_date")
    visit = _days(fu, "visit_date")
    eligible = (status == "missed") | ((status == "done") & due.notna() & visit.notna())
    fu["_flag"] = (status == "done") & (visit <= due).fillna(False)
    _rated(
        on_time,
        fu[eligible],
        "_flag",
        rules=rules,
        labels=labels,
        per_person=False,
        dims=("visit_month", "site"),
    )
    fu["_closed"] = _text(fu, "case_closed") == "yes"
    _rated(closure, fu, "_closed", rules=rules, labels=labels, per_person=True, dims=("site",))
    return inds


def _prosecution(
    period: Mapping[str, pd.DataFrame], rules: Protection, labels: Labels
) -> list[Indicator]:
    import pandas as pd

    from fieldkit.analysis._programme import legal_stages

    names = {
        "investigation": "Investigations",
        "prosecution": "Prosecutions",
        "conviction": "Convictions",
    }
    inds = [
        Indicator(
            f"{stage}s",
            "prosecution",
            title,
            f"People whose referral or legal-outcome record shows {stage} or a later stage "
            "(investigation → prosecution → conviction), counted once at their furthest stage "
            "over all their records.",
            f"people with a recorded {stage} or later",
            "—",
            "count",
        )
        for stage, title in names.items()
    ]
    why = _has(period, "referral", "case_outcome")
    sources = [] if why else [period["referral"]]
    legal = legal_stages(period)
    if legal is not None:
        sources.append(legal)
    if not sources:
        return [_unavailable(i, f"{why}, and no legal_outcome form") for i in inds]
    ref = pd.concat(sources, ignore_index=True) if len(sources) > 1 else sources[0]
    stage = _text(ref, "case_outcome").map(
        lambda s: _STAGES.index(s) if isinstance(s, str) and s in _STAGES else 0
    )
    # One row per person: their furthest stage, and where/who from their latest referral.
    ordered = ref.assign(_stage=stage).sort_values("_date", kind="stable")
    people = (
        ordered.groupby("_person", sort=False)
        .agg(_stage=("_stage", "max"), **{d: (d, "last") for d in _dims(ordered, _BASIC_DIMS)})
        .reset_index()
    )
    for ind, level in zip(inds, (1, 2, 3), strict=True):
        _counted(ind, people[people["_stage"] >= level], rules=rules, labels=labels, size=_people)
    return inds


def _partnership(
    period: Mapping[str, pd.DataFrame], rules: Protection, labels: Labels
) -> list[Indicator]:
    partners = _new("active_referral_partners")
    why = _has(period, "referral", "can_send", "receiving_agency")
    if why:
        return [_unavailable(partners, why)]
    made = _referrals_made(period)
    agencies = _text(made, "receiving_agency").dropna()
    n = int(agencies[agencies != OTHER].nunique())
    partners.total = Figure("all", n, numerator=n)
    return [partners]
