"""``capture --answers FILE.json``: fill a FormSession from a JSON object (DESIGN §8).

Keys are question names, or instance/template paths where a name repeats in the form; a
select_multiple is a list or space-separated text; a repeat is a list of objects (one per
instance, keyed the same way); a group may be an object. Every problem is collected and
reported at once by question name, never with the answer text (DOMAIN §5).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldkit.capture._entry import parse_answer, question_kind
from fieldkit.capture._navigation import instances, template_of
from fieldkit.errors import AnswerError, UsageError

if TYPE_CHECKING:
    from fieldkit.forms import Form, FormSession, Node

__all__ = ["MAX_ANSWERS_BYTES", "fill_session", "read_answers_file"]

# One record's answers; far above any real interview, low enough to refuse /dev/zero quickly.
MAX_ANSWERS_BYTES = 64 << 20


def read_answers_file(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; a one-line ``UsageError`` when it is not one."""
    try:
        with path.open("rb") as handle:
            # Bounded: /dev/zero or a runaway generator behind a pipe must not eat the memory.
            raw = handle.read(MAX_ANSWERS_BYTES + 1)
        if len(raw) > MAX_ANSWERS_BYTES:
            raise UsageError(f"{path.name} is larger than {MAX_ANSWERS_BYTES >> 20} MiB")
        text = raw.decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path.name}: {exc.strerror or 'unreadable'}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path.name} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path.name} is not valid JSON (line {exc.lineno})") from None
    except RecursionError:  # arrays or objects nested thousands deep
        raise UsageError(f"{path.name} is nested too deeply to be an answers file") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path.name} must hold one JSON object keyed by question name")
    return data


class _Filler:
    def __init__(self, form: Form, session: FormSession) -> None:
        self.form = form
        self.session = session
        self.unknown: list[str] = []
        self.misplaced: list[str] = []
        self.invalid: list[str] = []

    def resolve(self, key: str, *, scope: Node | None, instance: str) -> tuple[Node, str] | None:
        """(template node, instance path) of ``key`` among the nodes directly in ``scope``
        (a repeat template, or None for the form's top level) inside ``instance``."""
        scope_path = scope.path if scope is not None else None
        if key.startswith("/"):
            node = self.form.find(template_of(key))
            if node is None:
                return None
            if scope is None and node.repeat is not None and node.kind != "repeat":
                # A full instance path at the top level, e.g. /data/member[2]/age: the
                # instances it names are made as needed.
                return (node, key) if self._make_instances(key) else None
            if node.repeat != scope_path:
                return None
            if scope is None:
                return node, key
            return node, instance + node.path[len(scope.path) :]
        nodes = [n for n in self.form.named(key) if n.repeat == scope_path]
        if len(nodes) > 1:
            raise UsageError(f"question name {key} is used more than once; key it by its path")
        if not nodes:
            return None
        node = nodes[0]
        path = node.path if scope is None else instance + node.path[len(scope.path) :]
        return node, path

    def _make_instances(self, path: str) -> bool:
        """Add user-controlled repeat instances so that every ``name[n]`` in ``path`` exists."""
        done = ""
        for segment in path.strip("/").split("/"):
            match = re.fullmatch(r"([^\[\]]+)\[(\d+)\]", segment)
            if match is not None:
                node = self.form.find(template_of(f"{done}/{match[1]}"))
                if node is None or node.kind != "repeat":
                    return False
                wanted = int(match[2])
                have = instances(self.session, node.path, done)
                if wanted > len(have) and node.repeat_count:
                    return False
                if wanted > 200:
                    return False
                while len(have) < wanted:
                    have.append(self.session.add_repeat(f"{done}/{match[1]}"))
            done = f"{done}/{segment}"
        return True

    def fill(
        self, data: Mapping[str, Any], *, scope: Node | None = None, instance: str = ""
    ) -> None:
        later: list[tuple[Node, str, Any]] = []
        for key, value in data.items():
            found = self.resolve(str(key), scope=scope, instance=instance)
            if found is None:
                if not str(key).startswith("/") and self.form.named(str(key)):
                    self.misplaced.append(str(key))
                else:
                    self.unknown.append(str(key))
                continue
            node, path = found
            if node.kind == "repeat":
                later.append((node, path, value))
            elif node.kind == "group":
                if not isinstance(value, Mapping):
                    self.invalid.append(f"{node.name} (a group: give an object)")
                    continue
                self.fill(value, scope=scope, instance=instance)
            else:
                self._set(node, path, value)
        # Repeats last: their repeat_count (and relevance) may depend on the answers above.
        for node, path, value in later:
            self._fill_repeat(node, path, value)

    def _fill_repeat(self, node: Node, path: str, value: Any) -> None:
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.invalid.append(f"{node.name} (a repeat: give a list of objects)")
            return
        parent = path.rsplit("/", 1)[0]
        existing = instances(self.session, node.path, parent)
        if node.repeat_count:
            if len(value) > len(existing):
                self.invalid.append(f"{node.name} (more entries than its count)")
                return
        else:
            # ODK starts a record with one instance of each repeat: an empty list removes it.
            for extra in reversed(existing[len(value) :]):
                self.session.remove_repeat(extra)
            existing = existing[: len(value)]
            while len(existing) < len(value):
                existing.append(str(self.session.add_repeat(path)))
        for item, instance in zip(value, existing, strict=False):
            self.fill(item, scope=node, instance=instance)

    def _set(self, node: Node, path: str, value: Any) -> None:
        kind = question_kind(str(node.type))
        if node.kind != "question":
            self.invalid.append(f"{node.name} (calculated or display-only)")
            return
        text = _as_text(value)
        what = f"{node.name} (not a valid {kind.replace('_', ' ')})"
        if text is None:
            self.invalid.append(what)
            return
        try:
            state = self.session.node(path)
            parsed = parse_answer(kind, text, choices=state.choices, names_only=True)
            if parsed == "":
                self.session.clear(path)
            else:
                self.session.set(path, parsed)
        except AnswerError:
            self.invalid.append(what)


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


def fill_session(
    form: Form,
    session: FormSession,
    data: Mapping[str, Any],
    *,
    source: str,
    then: Callable[[FormSession], None] | None = None,
) -> None:
    """Apply ``data`` (and ``then``, before the check: the case code fieldkit makes); raise
    one error naming every unknown, missing or invalid question."""
    filler = _Filler(form, session)
    filler.fill(data)
    if then is not None:
        then(session)
    if filler.misplaced:
        names = ", ".join(sorted(set(filler.misplaced))[:20])
        raise UsageError(
            f"{source}: {names}: inside a repeat; give it in the repeat's list of objects, "
            "or by its full path"
        )
    if filler.unknown:
        names = ", ".join(sorted(set(filler.unknown))[:20])
        raise UsageError(f"{source}: no question named {names} in form {form.id}")
    invalid = list(filler.invalid)
    missing: list[str] = []
    for problem in session.problems():
        state = session.node(problem.path)
        if state.required_empty:
            missing.append(problem.name)
        else:
            invalid.append(f"{problem.name} (constraint not met)")
    if missing or invalid:
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(dict.fromkeys(missing)))
        if invalid:
            parts.append("invalid: " + ", ".join(dict.fromkeys(invalid)))
        raise AnswerError(f"{source}: nothing saved; " + "; ".join(parts))
