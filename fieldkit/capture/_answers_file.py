"""``capture --answers FILE.json``: fill a FormSession from a JSON object (DESIGN §8).

Keys are question names, or instance/template paths where a name repeats in the form; a
select_multiple is a list or space-separated text; a repeat is a list of objects (one per
instance, keyed the same way); a group may be an object. Every problem is collected and
reported at once by question name, never with the answer text (DOMAIN §5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fieldkit.capture._entry import parse_answer, question_kind
from fieldkit.capture._navigation import sync_repeat_counts, template_of
from fieldkit.errors import AnswerError, UsageError

__all__ = ["fill_session", "read_answers_file"]

_CONTAINERS = {"group", "repeat"}
_UNSETTABLE = {"calculate", "note", "start", "end", "today", "deviceid", "username"}


def read_answers_file(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; a one-line ``UsageError`` when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path.name}: {exc.strerror or 'unreadable'}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path.name} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path.name} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path.name} must hold one JSON object keyed by question name")
    return data


class _Filler:
    def __init__(self, form: Any, session: Any) -> None:
        self.form = form
        self.session = session
        self.nodes = {node.path: node for node in form.nodes()}
        self.by_name: dict[str, list[str]] = {}
        for node in self.nodes.values():
            self.by_name.setdefault(node.name, []).append(node.path)
        self.unknown: list[str] = []
        self.invalid: list[str] = []

    def resolve(self, key: str, *, scope: str, instance: str) -> tuple[str, str] | None:
        """(template path, instance path) of ``key`` inside ``scope`` (a template path)."""
        if key.startswith("/"):
            template = template_of(key)
            if template not in self.nodes:
                return None
            if scope and not template.startswith(scope + "/"):
                return None
            inside = key[len(scope) :] if key.startswith(scope + "/") else template[len(scope) :]
            return template, (instance + inside if scope else key)
        candidates = [
            p for p in self.by_name.get(key, []) if not scope or p.startswith(scope + "/")
        ]
        # Only nodes of this level: a name inside a nested repeat needs that repeat's object.
        candidates = [
            p
            for p in candidates
            if self._repeat_of(p) == (scope or None)
            or self.nodes[p].type == "repeat"
            and self._repeat_of(p) == (scope or None)
        ]
        if len(candidates) != 1:
            if len(candidates) > 1:
                raise UsageError(f"question name {key} is used more than once; key it by its path")
            return None
        template = candidates[0]
        return template, (instance + template[len(scope) :] if scope else template)

    def _repeat_of(self, template: str) -> str | None:
        """The nearest repeat strictly enclosing ``template``."""
        parent = template.rsplit("/", 1)[0]
        while parent.count("/") >= 1:
            node = self.nodes.get(parent)
            if node is not None and node.type == "repeat":
                return parent
            parent = parent.rsplit("/", 1)[0]
        return None

    def fill(self, data: Mapping[str, Any], *, scope: str = "", instance: str = "") -> None:
        later: list[tuple[str, str, Any]] = []
        for key, value in data.items():
            found = self.resolve(str(key), scope=scope, instance=instance)
            if found is None:
                self.unknown.append(str(key))
                continue
            template, path = found
            node = self.nodes[template]
            if node.type == "repeat":
                later.append((template, path, value))
            elif node.type == "group":
                if not isinstance(value, Mapping):
                    self.invalid.append(f"{node.name} (a group: give an object)")
                    continue
                self.fill(value, scope=scope, instance=instance)
            else:
                self._set(node, path, value)
        # Repeats last: their repeat_count (and relevance) may depend on the answers above.
        sync_repeat_counts(self.form, self.session)
        for template, path, value in later:
            self._fill_repeat(self.nodes[template], path, value)

    def _fill_repeat(self, node: Any, path: str, value: Any) -> None:
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.invalid.append(f"{node.name} (a repeat: give a list of objects)")
            return
        existing = self._instances(path)
        for index, item in enumerate(value, start=1):
            if index <= len(existing):
                instance = existing[index - 1]
            else:
                instance = str(self.session.add_repeat(path))
            self.fill(item, scope=node.path, instance=instance)

    def _instances(self, path: str) -> list[str]:
        prefix = path + "["
        found: dict[int, str] = {}
        for state in self.session.nodes():
            p = str(getattr(state, "path", state))
            if p.startswith(prefix):
                end = p.index("]", len(prefix))
                found[int(p[len(prefix) : end])] = p[: end + 1]
        return [found[n] for n in sorted(found)]

    def _set(self, node: Any, path: str, value: Any) -> None:
        kind = question_kind(str(node.type))
        if kind in _UNSETTABLE:
            self.invalid.append(f"{node.name} (calculated or display-only)")
            return
        text = _as_text(value)
        if text is None:
            self.invalid.append(f"{node.name} (not a valid {kind.replace('_', ' ')})")
            return
        state = self.session.node(path)
        try:
            parsed = parse_answer(kind, text, choices=list(getattr(state, "choices", None) or []))
        except AnswerError:
            self.invalid.append(f"{node.name} (not a valid {kind.replace('_', ' ')})")
            return
        if parsed == "":
            self.session.clear(path)
        else:
            self.session.set(path, parsed)


def _as_text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return None  # true/false is neither a choice name nor a number: say so
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return " ".join(str(v) for v in value)
    return None


def fill_session(form: Any, session: Any, data: Mapping[str, Any], *, source: str) -> None:
    """Apply ``data``; raise one error naming every unknown, missing or invalid question."""
    filler = _Filler(form, session)
    filler.fill(data)
    if filler.unknown:
        names = ", ".join(sorted(set(filler.unknown))[:20])
        raise UsageError(f"{source}: no question named {names} in form {form.id}")
    invalid = list(filler.invalid)
    missing: list[str] = []
    for problem in session.problems():
        path = str(getattr(problem, "path", problem))
        name = path.rsplit("/", 1)[-1]
        reason = _reason(problem)
        if reason == "required":
            missing.append(name)
        else:
            invalid.append(f"{name} ({reason})")
    if missing or invalid:
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(dict.fromkeys(missing)))
        if invalid:
            parts.append("invalid: " + ", ".join(dict.fromkeys(invalid)))
        raise AnswerError(f"{source}: nothing saved; " + "; ".join(parts))


def _reason(problem: Any) -> str:
    for attr in ("reason", "kind"):
        value = getattr(problem, attr, None)
        if isinstance(value, str) and value:
            return value
    return "required"
