"""The consent gate (DOMAIN §4: consent is recorded before the first question).

A form asks for it with a settings-sheet column ``requires_consent`` set to ``yes`` (also
``true``/``1``). Such a form starts only when the workspace holds a finalized (or sent) record
of the form ``consent`` whose ``consent_given`` answer is ``yes`` and that no later edit has
replaced. When the gated form has a ``client_pseudonym`` question, finalizing it also needs a
consent record with the same ``client_pseudonym``: one consent per person, kept simple.
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
    "requires_consent",
]

CONSENT_FORM = "consent"
_YES = {"yes", "true", "1", "true()", "y"}
_HOW = f"record it first with `fieldkit capture {CONSENT_FORM}`"


def requires_consent(form: Form) -> bool:
    """Whether the form's settings declare ``requires_consent`` = yes."""
    settings = form.settings
    return str(settings.get("requires_consent", "")).strip().lower() in _YES


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


def check_consent_to_start(ws: Workspace, form: Form) -> None:
    """Refuse to start a consent-gated form while no consent is on file."""
    if requires_consent(form) and not consent_on_file(ws):
        raise ConsentRequired(f"form {form.id} needs a finalized consent record: {_HOW}")


def check_consent_for_answers(ws: Workspace, form: Form, answers: Mapping[str, str]) -> None:
    """Before finalize: the consent must be for the same client pseudonym, when asked."""
    if not requires_consent(form):
        return
    pseudonym = _leaf(answers, "client_pseudonym")
    if pseudonym and not consent_on_file(ws, pseudonym=pseudonym):
        # The pseudonym itself stays out of the message (DOMAIN §5).
        raise ConsentRequired(f"no finalized consent for this client pseudonym: {_HOW}")
    if not pseudonym and not consent_on_file(ws):
        raise ConsentRequired(f"form {form.id} needs a finalized consent record: {_HOW}")
