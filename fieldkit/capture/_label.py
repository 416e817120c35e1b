"""Form text on screen: inert, with ODK's Markdown subset shown as styles, never as markup.

ODK Collect renders a small Markdown subset in labels and hints: ``**bold**`` / ``__bold__``,
``*italic*`` / ``_italic_``, ``# heading`` lines, ``[text](url)`` links and
``<span style="…">`` around text. Here bold and italic become styles, a heading is bold, a link
shows its text with the address after it, and HTML tags are dropped. The text is made inert
first (``fieldkit.text.inert``) and goes into a ``rich.text.Text``, so neither an escape
sequence nor rich markup (``[red]``) in a form can drive the terminal.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fieldkit.text import inert

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["plain_label", "styled_label"]

_TAG = re.compile(r"</?(?:span|font|b|i|strong|em|u|p|div)\b[^<>]*>|<br\s*/?>", re.IGNORECASE)
_LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
# Bold before italic; an escaped marker (\*) is kept as the character itself.
_EMPHASIS = re.compile(
    r"(?<![\\\w])(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?!\w)|(?<![\\\w*])([*_])(?=[^\s*_])(.+?)(?<=[^\s\\])\3(?![\w*])"
)
_ESCAPED = re.compile(r"\\([*_#\[\]\\])")


def _flatten(text: str) -> str:
    text = _TAG.sub(lambda m: "\n" if m.group(0).lower().startswith("<br") else "", text)
    return _LINK.sub(lambda m: f"{m[1]} ({m[2]})", text)


def plain_label(text: str) -> str:
    """The label as plain, inert text: Markdown markers and HTML tags removed."""
    lines = []
    for line in _flatten(inert(text)).split("\n"):
        line = _HEADING.sub("", line)
        line = _EMPHASIS.sub(lambda m: m[2] if m[2] is not None else m[4], line)
        lines.append(_ESCAPED.sub(r"\1", line))
    return "\n".join(lines)


def styled_label(text: str, *, style: str = "") -> Text:
    """The label as a rich ``Text`` with bold and italic from its Markdown."""
    from rich.text import Text

    out = Text(style=style)
    for number, line in enumerate(_flatten(inert(text)).split("\n")):
        if number:
            out.append("\n")
        heading = _HEADING.match(line)
        line_style = "bold" if heading else ""
        if heading:
            line = line[heading.end() :]
        at = 0
        for match in _EMPHASIS.finditer(line):
            out.append(_ESCAPED.sub(r"\1", line[at : match.start()]), style=line_style)
            if match[2] is not None:
                out.append(_ESCAPED.sub(r"\1", match[2]), style=f"{line_style} bold".strip())
            else:
                out.append(_ESCAPED.sub(r"\1", match[4]), style=f"{line_style} italic".strip())
            at = match.end()
        out.append(_ESCAPED.sub(r"\1", line[at:]), style=line_style)
    return out
