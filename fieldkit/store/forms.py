"""Form versions held in the workspace: the pyxform JSON definition of each (docs/internals.md)."""

from __future__ import annotations

import builtins
import importlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fieldkit.clock import utc_text
from fieldkit.errors import FormError, FormNotFound
from fieldkit.store._db import Database

if TYPE_CHECKING:
    from fieldkit.store.audit import Audit

__all__ = ["MASK", "FormVersion", "Forms", "mask_sensitive", "sensitive_paths"]

MASK = "•••"
_POSITION = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class FormVersion:
    """One version of one form, as stored."""

    form_id: str
    version: str
    title: str
    definition: dict[str, Any] = field(repr=False)
    added_at: str
    # Forms built from this workspace's definitions, shared by every FormVersion its ``Forms``
    # hands out: a (form id, version) never changes content once stored, so building it once
    # per open workspace is enough (capture, export and the demo ask for it per record).
    _built: dict[tuple[str, str], Any] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )

    def form(self) -> Any:
        """The ``fieldkit.forms.Form`` of this version (built without pyxform)."""
        key = (self.form_id, self.version)
        built = self._built.get(key)
        if built is None:
            # Imported by name: the forms engine is a separate package that may load
            # pyxform-free helpers lazily; the store only hands over the stored definition.
            forms = importlib.import_module("fieldkit.forms")
            built = self._built[key] = forms.Form.from_definition(self.definition)
        return built

    def sensitive_paths(self) -> frozenset[str]:
        """Template paths (no repeat positions) of the questions marked sensitive.

        Read through the forms engine, so that lists here mask exactly what capture masks.
        """
        return frozenset(node.path for node in self.form().nodes() if node.sensitive)


def sensitive_paths(definition: dict[str, Any]) -> frozenset[str]:
    """Template paths of questions whose ``sensitive`` column is yes/true/1 (DESIGN §3).

    Reads the pyxform JSON directly, for callers that must not load the forms engine; a test
    keeps it in step with ``Form.nodes()``.
    """
    found: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for child in node.get("children") or []:
            if not isinstance(child, dict) or not child.get("name"):
                continue
            path = f"{prefix}/{child['name']}"
            flag = str(child.get("sensitive", "")).strip().lower()
            if flag in ("yes", "true", "1", "true()"):
                found.add(path)
            walk(child, path)

    walk(definition, "/" + str(definition.get("name") or "data"))
    return frozenset(found)


def mask_sensitive(answers: dict[str, str], sensitive: frozenset[str] | None) -> dict[str, str]:
    """``answers`` with every sensitive one (by template path) replaced by ``MASK``.

    ``sensitive=None`` means the form is unknown here: everything non-empty is masked.
    """
    masked = {}
    for path, value in answers.items():
        template = _POSITION.sub("", path)
        hide = sensitive is None or template in sensitive
        masked[path] = MASK if hide and value != "" else value
    return masked


def _unsafe_name(value: str) -> bool:
    """A form id or version that could steer a path (``../x``, ``a/b``) or hide in a terminal.

    Exports name files after the form id, and both are shown on screen; XLSForm ids never need
    separators or control characters.
    """
    dots_only = value != "" and value.strip(".") == ""
    return dots_only or any(ch in "/\\" or ord(ch) < 32 or ord(ch) == 127 for ch in value)


class Forms:
    """``ws.forms``: add, get and list form versions."""

    def __init__(self, db: Database, audit: Audit) -> None:
        self._db = db
        self._audit = audit
        self._built: dict[tuple[str, str], Any] = {}

    def add(self, definition: dict[str, Any]) -> FormVersion:
        """Store a form version; adding the same definition twice is a no-op."""
        form_id = str(definition.get("id_string") or "").strip()
        if not form_id:
            raise FormError("the form has no form_id (settings sheet)")
        version = str(definition.get("version") or "").strip()
        for what, value in (("form_id", form_id), ("version", version)):
            if _unsafe_name(value):
                raise FormError(
                    f"the form's {what} must not hold '/', '\\', control characters or be a "
                    "dot-only name (settings sheet)"
                )
        title = str(definition.get("title") or form_id)
        encoded = json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        with self._db.transaction():
            existing = self._db.one(
                "SELECT definition FROM forms WHERE form_id = ? AND version = ?", (form_id, version)
            )
            if existing is not None:
                if existing[0] != encoded:
                    raise FormError(
                        f"form {form_id} version {version!r} is already in this workspace with "
                        "different content: raise the version in the settings sheet"
                    )
            else:
                self._db.execute(
                    "INSERT INTO forms (form_id, version, title, definition, added_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (form_id, version, title, encoded, utc_text()),
                )
                self._audit.append("form_add", form_id=form_id)
        return self.get(form_id, version)

    def get(self, form_id: str, version: str | None = None) -> FormVersion:
        """One form version; the most recently added when ``version`` is None."""
        sql = "SELECT form_id, version, title, definition, added_at FROM forms WHERE form_id = ?"
        params: tuple[str, ...] = (form_id,)
        if version is not None:
            sql += " AND version = ?"
            params = (form_id, version)
        row = self._db.one(sql + " ORDER BY rowid DESC LIMIT 1", params)
        if row is None:
            which = f" version {version}" if version is not None else ""
            raise FormNotFound(f"form {form_id}{which} is not in this workspace")
        return FormVersion(row[0], row[1], row[2], json.loads(row[3]), row[4], self._built)

    def list(self) -> builtins.list[FormVersion]:
        """Every stored version, by form id, oldest version first."""
        rows = self._db.all(
            "SELECT form_id, version, title, definition, added_at FROM forms "
            "ORDER BY form_id, rowid"
        )
        return [FormVersion(r[0], r[1], r[2], json.loads(r[3]), r[4], self._built) for r in rows]
