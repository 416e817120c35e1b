"""The review screen: every visible answer, sensitive ones masked unless asked (DOMAIN §5)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from fieldkit.capture._entry import question_kind
from fieldkit.capture._navigation import Question, Step

if TYPE_CHECKING:
    from rich.table import Table

    from fieldkit.forms import FormSession


__all__ = ["render_review"]

MASK = "•••••"


def render_review(
    *,
    session: FormSession,
    steps: Sequence[Step],
    visited: Collection[str] = (),
    show_sensitive: bool = False,
) -> Table:
    """A table of question number, label and answer; marks what stops finalize."""
    from rich.table import Table
    from rich.text import Text

    from fieldkit.capture._interview import _display, _problem_message

    table = Table(title="Review", title_justify="left", show_lines=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("question", overflow="fold", max_width=48)
    table.add_column("answer", overflow="fold", max_width=40)
    for step in steps:
        if not isinstance(step, Question):
            continue
        state = session.node(step.path)
        kind = question_kind(str(state.type))
        label = state.label or state.name
        if kind == "note":
            # Notes the answers made visible (a positive screen, an urgent flag) stay in view.
            table.add_row(str(step.number), Text(_one_line(label), style="bold"), Text("note"))
            continue
        value = str(state.value or "")
        sensitive = bool(state.sensitive)
        if value == "":
            if state.required:
                answer = Text("(missing)", style="dim")
            elif step.path in visited:
                answer = Text("(skipped)", style="dim")
            else:
                answer = Text("(not asked yet)", style="dim")
        elif sensitive and not show_sensitive:
            answer = Text(f"{MASK} (sensitive)", style="dim")
        else:
            answer = Text(_display(state, value, session.lang))
        problem = _problem_message(state)
        if problem:
            answer.append(f"  ✗ {problem}", style="red")
        table.add_row(str(step.number), Text(_one_line(label)), answer)
    return table


def _one_line(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
