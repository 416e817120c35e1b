"""Consent is enforced, not ticked (DOMAIN §4, §8).

A form says what it needs on its settings sheet:

- ``consent_scopes``: the scopes it needs, separated by spaces — ``interview``, ``store``,
  ``contact``, ``share``, ``statistics``. ``share(QUESTION)`` names the question that holds the
  receiving agency (a choice name): that agency must be among the partners the person agreed
  to. A form with this column needs consent.
- ``requires_consent`` = ``yes`` alone means ``interview store``.
- ``consent_override`` = ``QUESTION``: a question whose answer (other than empty or ``none``)
  records a legal basis (child protection, imminent danger to life) that stands in for
  consent. A name that matches no question is ignored: a typo never opens the gate.

The authority is the person's latest finalized consent record for the case code (the form's
``client_pseudonym`` question): a finalized or sent record of the form ``consent`` that no
finalized edit has replaced, the latest by finalizing time. It holds ``consent_given``
(yes/no), ``consent_scopes`` (the scope names agreed, space-separated; without it, consent
given means ``interview store``) and ``share_partners`` (the partner choice names agreed).
It is checked when the case code is known (at the start) and again at finalize.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldkit.errors import ConsentRequired, FormError
from fieldkit.store.case_orders import case_tag

if TYPE_CHECKING:
    from fieldkit.forms import Form
    from fieldkit.store import Workspace

__all__ = [
    "CASE_QUESTION",
    "CARRIED",
    "CONSENT_FORM",
    "SCOPES",
    "CaseConsent",
    "ConsentNeeds",
    "check_consent_for_answers",
    "check_consent_to_start",
    "consent_needs",
    "consent_on_file",
    "consent_override",
    "consent_problem",
    "consents_by_case",
    "missing_scopes",
    "requires_consent",
]

CONSENT_FORM = "consent"
CASE_QUESTION = "client_pseudonym"
SCOPES = ("interview", "store", "contact", "share", "statistics")
_BASIC = frozenset({"interview", "store"})
_YES = {"yes", "true", "1", "true()", "y"}
# The override question's "no basis" answer (the bundled legal_basis list: none,
# child_protection, imminent_danger).
_NO_BASIS = {"", "none"}
_HOW = f"record it first with `fieldkit capture {CONSENT_FORM}`"
_TOKEN = re.compile(r"^([A-Za-z_]+)(?:\(([A-Za-z_][\w.\-]*)\))?$")
# Scope names in messages (errors are English; the interview translates its own words).
_SCOPE_WORDS = {
    "interview": "answering questions",
    "store": "keeping the answers",
    "contact": "being contacted again",
    "share": "sharing with a named partner",
    "statistics": "anonymous statistics",
}


@dataclass(frozen=True)
class ConsentNeeds:
    """What a form needs from the person's consent, read from its settings sheet."""

    scopes: frozenset[str]
    agency: str | None = None  # the question holding the receiving agency (share(QUESTION))
    override: str | None = None  # the question recording a legal basis (consent_override)
    case: str | None = None  # the case code question, when the form has one


@dataclass(frozen=True)
class CaseConsent:
    """The latest finalized consent of one case code on this laptop."""

    code: str
    record_id: str
    day: str
    finalized_at: str
    given: bool
    scopes: frozenset[str]
    partners: tuple[str, ...]
    answers: Mapping[str, str]  # by question name: the values later forms may reuse

    def covers(self, scope: str) -> bool:
        """Whether the person agreed to ``scope``."""
        return self.given and scope in self.scopes


def _setting(form: Form, name: str) -> str:
    return str(form.settings.get(name, "") or "").strip()


def requires_consent(form: Form) -> bool:
    """Whether the form needs consent (``requires_consent`` = yes or ``consent_scopes``)."""
    return _setting(form, "requires_consent").lower() in _YES or bool(
        _setting(form, "consent_scopes")
    )


def consent_override(form: Form) -> str | None:
    """The question named by the settings column ``consent_override``, if the form has it."""
    if not requires_consent(form):
        return None
    name = _setting(form, "consent_override")
    if not name or not form.named(name):
        return None
    return name


def consent_needs(form: Form) -> ConsentNeeds | None:
    """The form's consent needs, or None when it needs no consent.

    An unknown scope, or ``share(QUESTION)`` naming no question, is a ``FormError``: a form
    whose gate cannot be read does not run.
    """
    if not requires_consent(form):
        return None
    text = _setting(form, "consent_scopes")
    scopes: set[str] = set()
    agency = None
    for token in text.replace(",", " ").split():
        match = _TOKEN.match(token)
        scope = match[1].lower() if match else ""
        if scope not in SCOPES:
            known = ", ".join(SCOPES)
            raise FormError(
                f"form {form.id}: consent_scopes names an unknown scope {token!r} "
                f"(known: {known}; share(QUESTION) names the agency question)"
            )
        if match and match[2]:
            if scope != "share":
                raise FormError(f"form {form.id}: only share(QUESTION) names a question")
            if not form.named(match[2]):
                raise FormError(f"form {form.id}: consent_scopes names no question {match[2]!r}")
            agency = match[2]
        scopes.add(scope)
    case = CASE_QUESTION if form.named(CASE_QUESTION) else None
    return ConsentNeeds(
        scopes=frozenset(scopes) if scopes else _BASIC,
        agency=agency,
        override=consent_override(form),
        case=case,
    )


def _leaf(answers: Mapping[str, str], name: str) -> str:
    """The first non-empty answer whose last path segment is ``name``."""
    for path, value in answers.items():
        if path.rsplit("/", 1)[-1] == name and value:
            return value
    return ""


# Answers of a consent record a later form of the same case may offer again (issue 12).
CARRIED = (
    "site",
    "interview_date",
    "interview_language",
    "interpreter_used",
    "mode",
    "sex",
    "age_band",
    "presumed_minor",
    "citizenship",
)


def consents_by_case(ws: Workspace) -> dict[str, CaseConsent]:
    """The latest current, finalized consent of every case code on this laptop."""
    records = list(ws.records.list(form_id=CONSENT_FORM))
    # A record replaced by a finalized edit no longer counts: the edit may withdraw consent.
    replaced = {r.replaces for r in records if r.replaces and r.status != "draft"}
    latest: dict[str, CaseConsent] = {}
    withdrawn = _withdrawn(ws)
    for record in records:
        if record.status == "draft" or record.id in replaced:
            continue
        # One pass over the answers, then look-ups by name: a laptop may hold thousands.
        named: dict[str, str] = {}
        for path, value in record.answers.items():
            if value:
                named.setdefault(path.rsplit("/", 1)[-1], value)
        code = named.get(CASE_QUESTION, "")
        if not code:
            continue
        given = named.get("consent_given", "").lower() in _YES
        agreed = named.get("consent_scopes", "").split()
        scopes = frozenset(agreed) if agreed else (_BASIC if given else frozenset())
        if withdrawn:
            # The person withdrew scopes since (a coordinator's signed order, DOMAIN §8).
            scopes = scopes - withdrawn.get(case_tag(ws, code), frozenset())
        consent = CaseConsent(
            code=code,
            record_id=record.id,
            day=named.get("interview_date") or str(record.capture_day or ""),
            finalized_at=str(record.finalized_at or ""),
            given=given,
            scopes=scopes if given else frozenset(),
            partners=tuple(named.get("share_partners", "").split()),
            answers={name: named[name] for name in CARRIED if name in named},
        )
        held = latest.get(code)
        if held is None or consent.finalized_at >= held.finalized_at:
            latest[code] = consent
    return latest


def _withdrawn(ws: Workspace) -> dict[str, frozenset[str]]:
    """tag → scopes withdrawn for the case (every scope for an erased one)."""
    from fieldkit.store.case_orders import EVERY_SCOPE, CaseOrders

    out = {}
    for tag, scopes in CaseOrders(ws).withdrawn().items():
        out[tag] = frozenset(SCOPES) if EVERY_SCOPE in scopes else frozenset(scopes)
    return out


def consent_on_file(ws: Workspace, *, pseudonym: str | None = None) -> bool:
    """Whether the latest consent of ``pseudonym`` (of any case, when None) gives consent."""
    consents = consents_by_case(ws)
    if pseudonym is None:
        return any(c.given for c in consents.values())
    consent = consents.get(pseudonym)
    return consent is not None and consent.given


def missing_scopes(needs: ConsentNeeds, consent: CaseConsent) -> list[str]:
    """The scopes the form needs that ``consent`` does not give, in ``SCOPES`` order."""
    return [s for s in SCOPES if s in needs.scopes and not consent.covers(s)]


def consent_problem(
    needs: ConsentNeeds, consent: CaseConsent | None, answers: Mapping[str, str]
) -> str | None:
    """Why ``consent`` does not cover the form with these answers (None when it does).

    The reason names scopes and the agency's choice name, never the case code or an answer
    the person gave (DOMAIN §5).
    """
    if consent is None:
        return "no finalized consent on this laptop for this case code"
    if not consent.given:
        return "the latest consent of this case does not give consent (refused or withdrawn)"
    missing = missing_scopes(needs, consent)
    if missing:
        words = ", ".join(_SCOPE_WORDS[s] for s in missing)
        return f"the latest consent of this case does not include {words}"
    if needs.agency is not None:
        agency = _leaf(answers, needs.agency)
        if agency and agency not in consent.partners:
            return (
                f"the latest consent of this case does not list the agency {agency!r} "
                f"({needs.agency}) among the partners the person agreed to"
            )
    return None


def _override_recorded(needs: ConsentNeeds, answers: Mapping[str, str]) -> bool:
    if needs.override is None:
        return False
    return _leaf(answers, needs.override).strip().lower() not in _NO_BASIS


def _no_case(form: Form) -> ConsentRequired:
    return ConsentRequired(
        f"form {form.id} needs consent but has no {CASE_QUESTION} question: consent is "
        "checked per case code"
    )


def check_consent_to_start(
    ws: Workspace,
    form: Form,
    *,
    code: str | None = None,
    consents: Mapping[str, CaseConsent] | None = None,
) -> str | None:
    """Refuse to start when the case's consent does not cover the form.

    ``code`` is the case code when it is known (a resumed draft, an answers file); a new
    interview asks it first and checks it there. Returns a notice for the interviewer when
    the form may go on anyway because it can record a legal basis (``consent_override``).
    ``consents`` is ``consents_by_case(ws)`` when the caller has read it already.
    """
    needs = consent_needs(form)
    if needs is None:
        return None
    if needs.case is None:
        raise _no_case(form)
    consents = consents if consents is not None else consents_by_case(ws)
    if not code:
        # No consent at all on this laptop: say so now, not after the case code is typed.
        if needs.override is None and not any(c.given for c in consents.values()):
            raise ConsentRequired(f"form {form.id} needs a finalized consent record: {_HOW}")
        return None
    problem = consent_problem(needs, consents.get(code), {})
    if problem is None:
        return None
    if needs.override is not None:
        return (
            f"{problem[0].upper()}{problem[1:]}: this {form.id} can be finalized only with a "
            f"legal basis recorded ({needs.override})."
        )
    raise ConsentRequired(f"{problem}: {_next_step(problem)}")


def _next_step(problem: str) -> str:
    if problem.startswith("no finalized consent"):
        return f"check the code on the person's card; if they have none, {_HOW}"
    return (
        "ask the person when it is safe and record a new consent with the same case code "
        f"(`fieldkit capture {CONSENT_FORM}`)"
    )


def check_consent_for_answers(ws: Workspace, form: Form, answers: Mapping[str, str]) -> None:
    """Before finalize: the latest consent of the case named in ``answers`` covers the form
    (scopes, and the receiving agency), or a legal basis is recorded in its place.

    ``answers`` should be the submission (non-relevant answers empty): a legal basis chosen
    and then made non-relevant by a later change must not open the gate.
    """
    needs = consent_needs(form)
    if needs is None:
        return
    if needs.case is None:
        raise _no_case(form)
    code = _leaf(answers, needs.case)
    if not code:
        if _override_recorded(needs, answers):
            return
        raise ConsentRequired(f"form {form.id} needs the case code ({needs.case}): {_HOW}")
    problem = consent_problem(needs, consents_by_case(ws).get(code), answers)
    if problem is None or _override_recorded(needs, answers):
        return
    if needs.override is not None:
        raise ConsentRequired(
            f"{problem} and no legal basis is recorded ({needs.override}): "
            f"{_next_step(problem)}, or record the legal basis"
        )
    raise ConsentRequired(f"{problem}: {_next_step(problem)}")
