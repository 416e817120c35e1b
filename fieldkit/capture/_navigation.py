"""The interview's path through a form: the visible questions plus "add another?" prompts.

The forms engine gives the visible questions in navigation order (``FormSession.questions()``,
every repeat instance expanded). Capture adds one step per repeat context where ODK Collect
asks "Add another …?": after the last instance of a repeat (or where the repeat would be when
it has none). Repeats with a ``repeat_count`` (``jr:count``) get no prompt: capture sizes them
to their count instead, as ODK Collect does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AddRepeat", "Question", "Step", "build_steps", "sync_repeat_counts", "template_of"]

_POSITION = re.compile(r"\[\d+\]")
_LAST_POSITION = re.compile(r"\[(\d+)\]$")


def template_of(path: str) -> str:
    """``/data/hh/member[2]/age`` → ``/data/hh/member/age``."""
    return _POSITION.sub("", path)


@dataclass(frozen=True)
class Question:
    """A visible question (or note), by instance path, with its 1-based number."""

    path: str
    number: int


@dataclass(frozen=True)
class AddRepeat:
    """Ask whether to add an instance of ``template`` inside ``parent`` (an instance path)."""

    template: str
    parent: str
    count: int


Step = Question | AddRepeat


def _key(path: str, order: dict[str, int]) -> tuple[tuple[int, int], ...]:
    """Document-order sort key of an instance path: (template index, instance number) per level."""
    parts: list[tuple[int, int]] = []
    template = ""
    for segment in path.strip("/").split("/"):
        match = _LAST_POSITION.search(segment)
        name = segment[: match.start()] if match else segment
        template = f"{template}/{name}"
        parts.append((order.get(template, -1), int(match[1]) if match else 0))
    return tuple(parts)


def _attr(node: Any, name: str, default: Any = None) -> Any:
    return getattr(node, name, default)


def repeat_count_of(node: Any) -> str | None:
    """The repeat_count expression of a repeat node, wherever the engine keeps it."""
    for attr in ("repeat_count", "count"):
        value = _attr(node, attr)
        if isinstance(value, str) and value:
            return value
    control = _attr(node, "control") or {}
    if isinstance(control, dict):
        value = control.get("jr:count")
        if isinstance(value, str) and value:
            return value
    return None


def _instance_paths(session: Any) -> list[str]:
    return [str(_attr(state, "path", state)) for state in session.nodes()]


def _instances(paths: Iterable[str], repeat: str, parent: str) -> list[str]:
    """Instance paths of ``repeat`` (template) that exist inside ``parent`` (instance path)."""
    name = repeat.rsplit("/", 1)[1]
    prefix = f"{parent}/{name}["
    found: dict[int, str] = {}
    for path in paths:
        if path.startswith(prefix):
            end = path.index("]", len(prefix))
            number = int(path[len(prefix) : end])
            found[number] = path[: end + 1]
    return [found[n] for n in sorted(found)]


def _contexts(repeat: Any, repeats: dict[str, Any], paths: Sequence[str]) -> list[str]:
    """The instance paths of the parent of ``repeat``: one per enclosing repeat instance."""
    parent_template = repeat.path.rsplit("/", 1)[0]
    enclosing = _attr(repeat, "repeat")
    if enclosing is None or enclosing == repeat.path:
        return [parent_template]
    outer = repeats.get(enclosing)
    if outer is None:
        return [parent_template]
    contexts = []
    for outer_parent in _contexts(outer, repeats, paths):
        for instance in _instances(paths, outer.path, outer_parent):
            contexts.append(instance + parent_template[len(outer.path) :])
    return contexts


def build_steps(form: Any, session: Any) -> list[Step]:
    """Every step of the interview in order: visible questions and "add another?" prompts."""
    nodes = list(form.nodes())
    order = {node.path: index for index, node in enumerate(nodes)}
    questions = [str(_attr(q, "path", q)) for q in session.questions()]
    keyed: list[tuple[tuple[tuple[int, int], ...], int, Step]] = []
    for number, path in enumerate(questions, start=1):
        keyed.append((_key(path, order), 0, Question(path, number)))
    repeats = {node.path: node for node in nodes if node.type == "repeat"}
    if repeats:
        paths = _instance_paths(session)
        visible = set(questions)
        for repeat in repeats.values():
            if repeat_count_of(repeat):
                continue
            for parent in _contexts(repeat, repeats, paths):
                if not _context_visible(parent, visible, order, repeat.path):
                    continue
                count = len(_instances(paths, repeat.path, parent))
                name = repeat.path.rsplit("/", 1)[1]
                key = _key(f"{parent}/{name}[{count + 1}]", order)
                keyed.append((key, 1, AddRepeat(repeat.path, parent, count)))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [step for _, _, step in keyed]


def _context_visible(parent: str, visible: set[str], order: dict[str, int], repeat: str) -> bool:
    """Offer a repeat only where its surroundings are shown: its parent (if a group inside a
    repeat instance or the root) must contain, or sit beside, a visible question."""
    if parent.count("/") <= 1:
        return True
    return any(path.startswith(parent + "/") for path in visible) or not any(
        path.startswith(template_of(parent) + "/") for path in order if path != repeat
    )


def sync_repeat_counts(form: Any, session: Any) -> bool:
    """Grow each ``repeat_count`` repeat to its count (ODK Collect creates them up front).

    Returns True when an instance was added. Trailing instances beyond a smaller count are
    left to the engine: removing answers silently is not capture's call.
    """
    changed = False
    nodes = list(form.nodes())
    repeats = {node.path: node for node in nodes if node.type == "repeat"}
    for repeat in repeats.values():
        expression = repeat_count_of(repeat)
        if not expression:
            continue
        for parent in _contexts(repeat, repeats, _instance_paths(session)):
            wanted = _count_value(session, repeat, parent, expression)
            have = len(_instances(_instance_paths(session), repeat.path, parent))
            while have < wanted:
                session.add_repeat(f"{parent}/{repeat.path.rsplit('/', 1)[1]}")
                have += 1
                changed = True
    return changed


def _count_value(session: Any, repeat: Any, parent: str, expression: str) -> int:
    """The number a repeat_count holds now: a ``${name}`` reference or a literal."""
    match = re.fullmatch(r"\s*\$\{(\w[\w.-]*)\}\s*", expression)
    text = ""
    if match:
        try:
            text = str(session.node(match[1]).value or "")
        except Exception:  # noqa: BLE001 - an unknown name sizes nothing
            text = ""
    elif expression.strip().isdigit():
        text = expression.strip()
    try:
        return max(0, min(int(float(text)), 200))
    except ValueError:
        return 0
