"""The review screen: every visible answer, sensitive ones masked unless asked (DOMAIN §5).

Answers inside a repeat are grouped under a line naming the entry ("Household member 2"); the
form's computed decisions (screen result, urgent, can send…) follow in a table of their own,
so the interviewer sees what the answers led to before finalizing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from fieldkit.capture._entry import question_kind
from fieldkit.capture._label import plain_label
from fieldkit.capture._navigation import Question, Step
from fieldkit.capture._screen import display_value, problem_message
from fieldkit.capture._words import say
from fieldkit.text import inert

if TYPE_CHECKING:
    from rich.console import RenderableType

    from fieldkit.forms import FormSession


__all__ = ["MASK", "render_review"]

MASK = "•••••"
_INSTANCE = re.compile(r"^(.*\[(\d+)\])/[^/]+$")
_POSITIONS = re.compile(r"\[\d+\]")


def render_review(
    *,
    session: FormSession,
    steps: Sequence[Step],
    visited: Collection[str] = (),
    show_sensitive: bool = False,
    repeat_label: Callable[[str], str] | None = None,
    emergency: Collection[str] = (),
) -> list[RenderableType]:
    """The answers table (question number, label, answer; what stops finalize marked), then
    the form's computed values."""
    from rich.table import Table
    from rich.text import Text

    lang = session.lang
    table = Table(title=say("review", lang), title_justify="left", show_lines=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column(say("review_question", lang), overflow="fold", max_width=48)
    table.add_column(say("review_answer", lang), overflow="fold", max_width=40)
    instance = ""
    for step in steps:
        if not isinstance(step, Question):
            continue
        match = _INSTANCE.match(step.path)
        here = match[1] if match else ""
        if here != instance:
            instance = here
            if match and repeat_label is not None:
                name = repeat_label(_POSITIONS.sub("", match[1]))
                table.add_row("", Text(f"{name} {match[2]}", style="bold underline"), "")
        state = session.node(step.path)
        kind = question_kind(str(state.type))
        label = _one_line(plain_label(state.label or state.name))
        if kind == "note":
            # Notes the answers made visible (a positive screen, an urgent flag) stay in view.
            style = "bold red" if state.name in emergency else "bold"
            table.add_row(
                str(step.number), Text(label, style=style), Text(say("review_note", lang))
            )
            continue
        value = str(state.value or "")
        if value == "":
            if state.required:
                answer = Text(say("review_missing", lang), style="dim")
            elif step.path in visited:
                answer = Text(say("review_skipped", lang), style="dim")
            else:
                answer = Text(say("review_not_asked", lang), style="dim")
        elif state.sensitive and not show_sensitive:
            answer = Text(f"{MASK} {say('review_sensitive', lang)}", style="dim")
        else:
            answer = Text(display_value(state, value, lang))
        problem = problem_message(state, lang)
        if problem:
            answer.append(f"  ✗ {problem}", style="red")
        table.add_row(str(step.number), Text(label), answer)
    out: list[RenderableType] = [table]
    computed = _computed(session, show_sensitive=show_sensitive)
    if computed is not None:
        out.append(computed)
    return out


def _computed(session: FormSession, *, show_sensitive: bool) -> RenderableType | None:
    """The form's calculations that hold a value, by name (they have no label)."""
    from rich.table import Table
    from rich.text import Text

    lang = session.lang
    table = Table(
        title=say("review_computed", lang), title_justify="left", expand=False, show_header=False
    )
    table.add_column("", overflow="fold", max_width=48)
    table.add_column("", overflow="fold", max_width=40)
    rows = 0
    for state in session.nodes():
        if state.kind != "calculate" or not state.relevant or state.value == "":
            continue
        if state.sensitive and not show_sensitive:
            value = Text(f"{MASK} {say('review_sensitive', lang)}", style="dim")
        else:
            value = Text(_one_line(inert(str(state.value))), style="bold")
        table.add_row(Text(inert(state.path.split("/", 2)[-1])), value)
        rows += 1
    return table if rows else None


def _one_line(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
