"""The case code of one interview: proposed at consent, checked where it is typed elsewhere.

On the consent form fieldkit proposes a new code (``_case_code.new_case_code``); a typed code
must carry a valid check character (a person who already has one keeps it). On a form that
needs consent the code is the first thing asked: it is looked up among the consents on this
laptop at once, a near miss gets "did you mean", and the consent's scopes are checked before
any question about the person (DOMAIN §8). The consent's answers that later forms ask again
(site, language, sex, age band…) are then offered in one go.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldkit.capture._case_code import (
    is_case_code,
    new_case_code,
    normalize_case_code,
    similar_codes,
)
from fieldkit.capture._consent import (
    CARRIED,
    CASE_QUESTION,
    CONSENT_FORM,
    CaseConsent,
    ConsentNeeds,
    consents_by_case,
    missing_scopes,
)
from fieldkit.capture._label import plain_label
from fieldkit.capture._words import say

if TYPE_CHECKING:
    from fieldkit.forms import Form, FormSession
    from fieldkit.store import Workspace

__all__ = ["CaseGate", "Carried", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    """What the check of a typed case code found: accept it or not, and what to say."""

    accepted: bool
    code: str
    lines: tuple[str, ...] = ()
    consent: CaseConsent | None = None


@dataclass(frozen=True)
class Carried:
    """One answer of the case's consent offered to this form: where, what, how it reads."""

    path: str
    value: str
    label: str
    shown: str


class CaseGate:
    """The case code question of one interview, and the consent it leads to."""

    def __init__(
        self,
        ws: Workspace,
        form: Form,
        *,
        needs: ConsentNeeds | None,
        consents: dict[str, CaseConsent] | None = None,
    ) -> None:
        self._ws = ws
        self.form = form
        self.needs = needs
        top = [n for n in form.named(CASE_QUESTION) if n.repeat is None and n.kind == "question"]
        self.path: str | None = top[0].path if top else None
        if self.path is None:
            self.mode: str | None = None
        elif form.id == CONSENT_FORM:
            self.mode = "consent"
        elif needs is not None:
            self.mode = "gated"
        else:
            self.mode = None
        self._consents: dict[str, CaseConsent] | None = consents
        self.consent: CaseConsent | None = None
        self._proposal: str | None = None

    @property
    def ask_first(self) -> bool:
        """Whether the interview asks the case code before anything else."""
        return self.mode == "gated"

    def consents(self) -> dict[str, CaseConsent]:
        """The latest consent of every case on this laptop (read once per interview)."""
        if self._consents is None:
            self._consents = consents_by_case(self._ws)
        return self._consents

    def proposal(self) -> str:
        """The new code fieldkit proposes on the consent form (made once per interview)."""
        if self._proposal is None:
            self._proposal = new_case_code(self._ws, taken=self.consents())
        return self._proposal

    # ------------------------------------------------------------------ the check
    def check(self, typed: str, *, lang: str | None) -> Verdict:
        """Whether ``typed`` may stand as this interview's case code, and what to tell."""
        code = normalize_case_code(typed)
        consents = self.consents()
        if self.mode == "consent":
            held = consents.get(code)
            if held is not None:
                return Verdict(True, code, (say("case_existing", lang, code=code, day=held.day),))
            if is_case_code(code) or code == self._proposal:
                return Verdict(True, code)
            return Verdict(False, code, self._mistyped(code, lang))
        consent = consents.get(code)
        needs = self.needs
        override = needs.override if needs is not None else None
        if consent is None:
            if not is_case_code(code):
                return Verdict(False, code, (*self._mistyped(code, lang), say("case_retype", lang)))
            lines = [say("case_unknown", lang, code=code), *self._near(code, lang)]
            if override is not None:
                return Verdict(True, code, (*lines, say("case_override", lang, question=override)))
            return Verdict(False, code, (*lines, say("case_retype", lang)))
        reason = self._reason(consent, lang)
        if reason is None:
            self.consent = consent
            scopes = ", ".join(say(f"scope_{s}", lang) for s in sorted(consent.scopes, key=_order))
            found = say(
                "case_found",
                lang,
                day=consent.day,
                code=code,
                scopes=scopes or say("scopes_none", lang),
            )
            return Verdict(True, code, (found,), consent)
        lines = [say("case_not_covered", lang, reason=reason)]
        if override is not None:
            self.consent = consent
            return Verdict(
                True, code, (*lines, say("case_override", lang, question=override)), consent
            )
        return Verdict(False, code, (*lines, say("case_not_covered_next", lang)), consent)

    def _reason(self, consent: CaseConsent, lang: str | None) -> str | None:
        if self.needs is None:
            return None
        if not consent.given:
            return say("reason_not_given", lang)
        missing = missing_scopes(self.needs, consent)
        if missing:
            return say(
                "reason_missing", lang, scopes=", ".join(say(f"scope_{s}", lang) for s in missing)
            )
        return None

    def _mistyped(self, code: str, lang: str | None) -> tuple[str, ...]:
        return (say("case_bad", lang, code=code), *self._near(code, lang))

    def _near(self, code: str, lang: str | None) -> tuple[str, ...]:
        near = similar_codes(code, self.consents())
        return (say("did_you_mean", lang, codes=" / ".join(near)),) if near else ()

    # ------------------------------------------------------------------ after the check
    def carried(self, session: FormSession, *, today: _dt.date | None = None) -> list[Carried]:
        """The case consent's answers this form asks again and has not answered yet.

        The interview's date is today's, not the consent's: a screening on a later day
        happens on that day.
        """
        if self.consent is None:
            return []
        out = []
        for name in CARRIED:
            value = self.consent.answers.get(name, "")
            if name == "interview_date":
                value = (today or _dt.date.today()).isoformat()
            if not value:
                continue
            nodes = [n for n in self.form.named(name) if n.repeat is None and n.kind == "question"]
            if not nodes:
                continue
            state = session.node(nodes[0].path)
            if not state.relevant or state.value or state.readonly:
                continue
            shown = value
            if state.choices:
                labels = {c.name: c.label(session.lang) for c in state.choices}
                if value not in labels:
                    continue  # a choice this form does not offer
                shown = plain_label(labels[value])
            label = plain_label(state.label or name)
            out.append(Carried(state.path, value, " ".join(label.split()), shown))
        return out

    def agency_note(self, session: FormSession, path: str, *, lang: str | None) -> str | None:
        """Whether the person's consent lists the agency just chosen (None: not that question)."""
        needs = self.needs
        if needs is None or needs.agency is None or path.rsplit("/", 1)[-1] != needs.agency:
            return None
        state = session.node(path)
        if not state.value:
            return None
        consent = self.consent
        if consent is None:
            return say("agency_no_consent", lang)
        if consent.covers("share") and state.value in consent.partners:
            return say("agency_ok", lang)
        labels = {c.name: plain_label(c.label(session.lang)) for c in state.choices}
        listed = (
            ", ".join(labels.get(p, p) for p in consent.partners) if consent.covers("share") else ""
        )
        return say("agency_not_listed", lang, partners=listed or say("nobody", lang))


def _order(scope: str) -> int:
    from fieldkit.capture._consent import SCOPES

    return SCOPES.index(scope) if scope in SCOPES else len(SCOPES)
