"""The consent gate (DOMAIN §4: consent is recorded before the first question).

A form asks for it with a settings-sheet column ``requires_consent`` set to ``yes`` (also
``true``/``1``). Such a form starts only when the workspace holds a finalized (or sent) record
of the form ``consent`` whose ``consent_given`` answer is ``yes`` and that no later edit has
replaced. When the gated form has a ``client_pseudonym`` question, finalizing it also needs a
consent record with the same ``client_pseudonym``: one consent per person, kept simple.

A form may also name, in a settings column ``consent_override``, a question whose answer
stands in for consent (the bundled referral: ``legal_basis``). DOMAIN §3: a referral without
consent may still go when a legal basis is recorded (child protection, imminent danger). Such
a form starts without consent on file, with a notice, and finalizes only when consent is on
file for the person or the override question holds a value other than ``none``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fieldkit.errors import ConsentRequired

if TYPE_CHECKING:
    from fieldkit.forms import Form
    from fieldkit.store import Workspace

__all__ = [
    "CONSENT_FORM",
    "check_consent_for_answers",
    "check_consent_to_start",
    "consent_on_file",
    "consent_override",
    "requires_consent",
]

CONSENT_FORM = "consent"
_YES = {"yes", "true", "1", "true()", "y"}
# The override question's "no basis" answer (the bundled legal_basis list: none,
# child_protection, imminent_danger).
_NO_BASIS = {"", "none"}
_HOW = f"record it first with `fieldkit capture {CONSENT_FORM}`"


def requires_consent(form: Form) -> bool:
    """Whether the form's settings declare ``requires_consent`` = yes."""
    settings = form.settings
    return str(settings.get("requires_consent", "")).strip().lower() in _YES


def consent_override(form: Form) -> str | None:
    """The question named by the settings column ``consent_override``, if the form has it.

    A name that matches no question of the form is ignored: a typo in the settings must not
    open the gate, it only keeps it as strict as without the column.
    """
    if not requires_consent(form):
        return None
    name = str(form.settings.get("consent_override", "") or "").strip()
    if not name or not form.named(name):
        return None
    return name


def _leaf(answers: Mapping[str, str], name: str) -> str:
    """The first non-empty answer whose last path segment is ``name``."""
    for path, value in answers.items():
        if path.rsplit("/", 1)[-1] == name and value:
            return value
    return ""


def consent_on_file(ws: Workspace, *, pseudonym: str | None = None) -> bool:
    """A current, finalized consent record with consent given (for ``pseudonym`` if given)."""
    records = list(ws.records.list(form_id=CONSENT_FORM))
    # A record replaced by a finalized edit no longer counts: the edit may withdraw consent.
    replaced = {r.replaces for r in records if r.replaces and r.status != "draft"}
    for record in records:
        if record.status == "draft" or record.id in replaced:
            continue
        if _leaf(record.answers, "consent_given").lower() not in _YES:
            continue
        if pseudonym is None or _leaf(record.answers, "client_pseudonym") == pseudonym:
            return True
    return False


def check_consent_to_start(ws: Workspace, form: Form) -> str | None:
    """Refuse to start a consent-gated form while no consent is on file.

    Returns a notice for the interviewer when the form may start anyway because it records a
    legal basis instead (``consent_override``); ``None`` when there is nothing to say.
    """
    if not requires_consent(form) or consent_on_file(ws):
        return None
    override = consent_override(form)
    if override is None:
        raise ConsentRequired(f"form {form.id} needs a finalized consent record: {_HOW}")
    return (
        f"No consent is on file on this laptop: this {form.id} can be finalized only with a "
        f"legal basis recorded ({override}). To record consent, use "
        f"`fieldkit capture {CONSENT_FORM}`."
    )


def check_consent_for_answers(ws: Workspace, form: Form, answers: Mapping[str, str]) -> None:
    """Before finalize: the consent must be for the same client pseudonym, when asked; a form
    with ``consent_override`` also accepts a recorded basis in place of that consent.

    ``answers`` should be the submission (non-relevant answers empty): a legal basis chosen
    and then made non-relevant by a later change must not open the gate.
    """
    if not requires_consent(form):
        return
    pseudonym = _leaf(answers, "client_pseudonym")
    if consent_on_file(ws, pseudonym=pseudonym or None):
        return
    override = consent_override(form)
    if override is not None and _leaf(answers, override).strip().lower() not in _NO_BASIS:
        return
    # The pseudonym itself stays out of the message (DOMAIN §5).
    if pseudonym:
        missing = "no finalized consent for this client pseudonym"
    else:
        missing = f"form {form.id} needs a finalized consent record"
    if override is not None:
        raise ConsentRequired(
            f"{missing} and no legal basis recorded ({override}): {_HOW}, or record the basis"
        )
    raise ConsentRequired(f"{missing}: {_HOW}")
