"""The project's emergency contacts, shown under an emergency note (DOMAIN §4).

They are configured once per project and travel signed with the forms; this module only
reads them, through one accessor, from the workspace state key ``project.emergency_contacts``:
a JSON list of ``{"label": {"en": "...", "fr": "..."} | "...", "contact": "..."}``. The text
was written elsewhere, so it is made inert before it is shown; entries of the wrong shape are
left out rather than trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fieldkit.capture._words import language_code
from fieldkit.text import one_line

if TYPE_CHECKING:
    from fieldkit.store import Workspace

__all__ = ["STATE_KEY", "Contact", "emergency_contacts"]

STATE_KEY = "project.emergency_contacts"
_MAX_CONTACTS = 20
_MAX_TEXT = 120


@dataclass(frozen=True)
class Contact:
    """One emergency contact: a label per language and the number or address to use."""

    labels: Mapping[str, str] = field(default_factory=dict)
    contact: str = ""

    def label(self, lang: str | None = None) -> str:
        """The label in the interview's language (by code), else English, else any."""
        code = language_code(lang)
        for key in (code, "en", ""):
            if key in self.labels:
                return self.labels[key]
        return next(iter(self.labels.values()), "")


def _labels(value: Any) -> dict[str, str] | None:
    if isinstance(value, str):
        return {"": one_line(value, limit=_MAX_TEXT)}
    if isinstance(value, Mapping) and value:
        labels = {}
        for lang, text in value.items():
            if not isinstance(text, str):
                return None
            labels[str(lang).strip().lower()[:8]] = one_line(text, limit=_MAX_TEXT)
        return labels
    return None


def emergency_contacts(ws: Workspace) -> list[Contact]:
    """The project's emergency contacts, in the order configured ([] when none are)."""
    value = ws.state.get(STATE_KEY)
    if not isinstance(value, list):
        return []
    contacts = []
    for item in value[:_MAX_CONTACTS]:
        if not isinstance(item, Mapping):
            continue
        labels = _labels(item.get("label"))
        contact = item.get("contact")
        if labels is None or not isinstance(contact, str) or not contact.strip():
            continue
        contacts.append(Contact(labels=labels, contact=one_line(contact, limit=_MAX_TEXT)))
    return contacts
