"""The interview's path through a form: the visible questions plus "add another?" prompts.

The forms engine gives the visible questions in navigation order (``FormSession.questions()``,
every repeat instance expanded). Capture adds one step per repeat context where ODK Collect
asks "Add another …?": after the last instance of a repeat (or where the repeat would be when
it has none). Repeats with a ``repeat_count`` (``jr:count``) get no prompt: the engine sizes
them to their count, as ODK Collect does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldkit.errors import AnswerError

if TYPE_CHECKING:
    from fieldkit.forms import Form, FormSession, Node

__all__ = ["AddRepeat", "Question", "Step", "build_steps", "instances", "template_of"]

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


def instances(session: FormSession, repeat: str, parent: str) -> list[str]:
    """Instance paths of ``repeat`` (a template path) that exist inside ``parent``."""
    name = repeat.rsplit("/", 1)[1]
    prefix = f"{parent}/{name}["
    found: dict[int, str] = {}
    for state in session.nodes():
        path = str(state.path)
        if path.startswith(prefix):
            end = path.index("]", len(prefix))
            found[int(path[len(prefix) : end])] = path[: end + 1]
    return [found[n] for n in sorted(found)]


def _contexts(session: FormSession, repeat: Node, repeats: dict[str, Node]) -> list[str]:
    """The instance paths of the parent of ``repeat``: one per enclosing repeat instance."""
    parent_template = repeat.path.rsplit("/", 1)[0]
    outer = repeats.get(repeat.repeat) if repeat.repeat else None
    if outer is None:
        return [parent_template]
    contexts = []
    for outer_parent in _contexts(session, outer, repeats):
        for instance in instances(session, outer.path, outer_parent):
            contexts.append(instance + parent_template[len(outer.path) :])
    return contexts


def build_steps(form: Form, session: FormSession) -> list[Step]:
    """Every step of the interview in order: visible questions and "add another?" prompts."""
    nodes = list(form.nodes())
    order = {node.path: index for index, node in enumerate(nodes)}
    order[f"/{form.root}"] = -1
    questions = [str(state.path) for state in session.questions()]
    keyed: list[tuple[tuple[tuple[int, int], ...], int, Step]] = []
    for number, path in enumerate(questions, start=1):
        keyed.append((_key(path, order), 0, Question(path, number)))
    repeats = {node.path: node for node in nodes if node.kind == "repeat"}
    for repeat in repeats.values():
        if repeat.repeat_count:
            continue
        name = repeat.path.rsplit("/", 1)[1]
        for parent in _contexts(session, repeat, repeats):
            existing = instances(session, repeat.path, parent)
            if not _relevant(session, existing[-1] if existing else parent):
                continue
            key = _key(f"{parent}/{name}[{len(existing) + 1}]", order)
            keyed.append((key, 1, AddRepeat(repeat.path, parent, len(existing))))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [step for _, _, step in keyed]


def _relevant(session: FormSession, path: str) -> bool:
    """Whether a group or repeat instance is shown (a repeat is offered only where it is)."""
    try:
        return bool(session.node(path).relevant)
    except AnswerError:
        return True  # the root, or a path the engine does not expose: nothing hides it
