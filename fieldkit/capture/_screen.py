"""What one question looks like on screen: its heading, its text, its choices, its notices.

Everything from the form goes through ``_label`` (inert, Markdown as styles) and into
``rich.text.Text``, never into markup. A question block is sized to the screen: the heading,
the question and the prompt stay in view, and a list too long for what is left is paged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fieldkit.capture._choices import ChoiceView
from fieldkit.capture._label import plain_label, styled_label
from fieldkit.capture._words import say
from fieldkit.text import inert, one_line

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from fieldkit.capture._contacts import Contact
    from fieldkit.forms import Choice, NodeState

__all__ = [
    "choice_labels",
    "choice_rows",
    "display_value",
    "emergency_block",
    "lines_needed",
    "problem_message",
    "required_message",
]

# Rows a question block keeps for itself beside its list: blank line, heading, status line,
# prompt, and one spare so the prompt never sits on the screen's last row.
_FRAME_ROWS = 5
MIN_PAGE = 3


def choice_labels(choices: Sequence[Choice], lang: str | None) -> list[str]:
    """Each choice's label as plain text (its name when it has none)."""
    return [" ".join(plain_label(c.label(lang) or c.name).split()) or c.name for c in choices]


def display_value(state: NodeState, value: str, lang: str | None) -> str:
    """An answer as the interviewer reads it: choice labels for selects; inert text, so an
    answer synced from another device cannot drive the terminal."""
    choices = list(state.choices)
    if not choices:
        return inert(value)
    labels = dict(zip((c.name for c in choices), choice_labels(choices, lang), strict=True))
    return inert(", ".join(labels.get(name, name) for name in value.split()))


def required_message(state: NodeState, lang: str | None) -> str:
    """The form's required message, else the interview's own."""
    return inert(state.required_message.strip()) or say("question_required", lang)


def problem_message(state: NodeState, lang: str | None) -> str:
    """The form's message when ``state`` fails its constraint or misses a required answer;
    "" when it is acceptable now."""
    if not state.constraint_valid:
        return inert(state.constraint_message.strip()) or say("not_allowed", lang)
    if state.required_empty:
        return required_message(state, lang)
    return ""


def lines_needed(objects: Sequence[RenderableType], width: int) -> int:
    """How many screen rows ``objects`` take at ``width`` columns."""
    import io

    from rich.console import Console

    console = Console(width=max(width, 20), file=io.StringIO(), highlight=False)
    total = 0
    for obj in objects:
        total += len(console.render_lines(obj, console.options, pad=False))
    return total


def page_size(used: int, height: int) -> int:
    """List rows that fit under ``used`` rows of question on a screen ``height`` rows tall."""
    return max(height - used - _FRAME_ROWS, MIN_PAGE)


def choice_rows(
    view: ChoiceView, *, rows: Sequence[tuple[int, int]], lang: str | None
) -> list[Text]:
    """One line per choice: the number to type, then the label."""
    from rich.text import Text

    width = len(str(rows[-1][0])) if rows else 1
    return [
        Text(f"  {position:>{max(width, 2)}}. {view.labels[index]}") for position, index in rows
    ]


def list_status(
    view: ChoiceView,
    *,
    first: int,
    last: int,
    count: int,
    query: str,
    paged: bool,
    lang: str | None,
) -> str:
    """The line under a list: where this page is, how to turn it, how to filter."""
    shown_query = one_line(query, limit=30)
    if query and count == 0:
        return say("choices_none", lang, query=shown_query)
    if query:
        if paged:
            return say(
                "choices_filtered_page",
                lang,
                first=first,
                last=last,
                count=count,
                query=shown_query,
            )
        return say("choices_filtered", lang, count=count, total=view.total, query=shown_query)
    if paged:
        return say("choices_page", lang, first=first, last=last, total=view.total)
    return say("choices_all", lang, total=view.total)


def emergency_block(
    label: RenderableType, contacts: Sequence[Contact], *, lang: str | None
) -> RenderableType:
    """An emergency note in a red frame with the project's emergency contacts under it."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    parts: list[RenderableType] = [label, Text("")]
    if contacts:
        parts.append(Text(say("emergency_contacts", lang), style="bold"))
        for contact in contacts:
            line = Text("  ☎ ")
            line.append(contact.label(lang), style="bold")
            line.append(f"  {contact.contact}")
            parts.append(line)
    else:
        parts.append(Text(say("emergency_none", lang), style="bold"))
    return Panel(Group(*parts), border_style="bold red", title="⚠", title_align="left")


def question_text(state: NodeState, *, emergency: bool) -> list[RenderableType]:
    """The question's label (bold) and hint (italic), Markdown shown as styles."""
    out: list[RenderableType] = [
        styled_label(state.label or state.name, style="bold red" if emergency else "bold")
    ]
    if state.hint:
        out.append(styled_label(state.hint, style="italic"))
    return out
