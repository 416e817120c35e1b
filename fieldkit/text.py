"""Text from elsewhere shown as inert text: the one place that decides what reaches a terminal.

Answers synced from another device, form titles, labels and hints from a form file, and messages
from a server are all written by someone else. Control characters in them could drive the
terminal (ANSI escape sequences can clear the screen, retitle the window or draw a fake
passphrase prompt), and rich markup in them could restyle or break the output. Everything
written by someone else goes through :func:`inert` before it is printed; rich callers then
print it with ``markup=False`` or wrap it in ``rich.text.Text``.
"""

from __future__ import annotations

import re

__all__ = ["CONTROL", "inert", "one_line"]

# C0 controls except tab and newline, DEL, and the C1 range (U+0080–U+009F, which some
# terminals read as escape introducers: U+009B is CSI on its own).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def inert(text: str) -> str:
    """``text`` with every control character (bar tab and newline) shown as U+FFFD."""
    return CONTROL.sub(_REPLACEMENT, text)


def one_line(text: str, *, limit: int = 200) -> str:
    """``text`` made inert, whitespace (newlines included) folded to single spaces, at most
    ``limit`` characters: for a message from elsewhere that must stay one line."""
    folded = " ".join(inert(text).split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"
