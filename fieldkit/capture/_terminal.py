"""The interview's only contact with the outside: show something, ask for a line, clear.

``RichTerminal`` renders with rich and reads with ``input()``, so it works in a real terminal
(line editing, a pre-filled default through readline) and under typer's ``CliRunner(input=…)``
(where stdin is a plain stream and EOF ends the script). A default or the current answer is
shown in [brackets] and kept with Enter, the same way in both. Tests may pass any object with
the same three methods.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["QuickExit", "RichTerminal", "Terminal"]


class QuickExit(Exception):  # noqa: N818 - a signal, not an error
    """The interviewer asked to leave at once (``:q``, ``!!``, Ctrl-C or end of input)."""


class Terminal(Protocol):
    """A prompt/print pair plus a screen clear."""

    def show(self, *objects: RenderableType) -> None:
        """Print renderables (rich markup allowed in strings)."""

    def ask(self, prompt: str) -> str:
        """Read one line; raise ``QuickExit`` on Ctrl-C or end of input."""
        ...

    def clear(self) -> None:
        """Wipe the screen and its scrollback."""


# ED2 clears the screen, ED3 the scrollback (xterm, tmux, VTE), CUP homes the cursor: after a
# quick exit nothing of the interview may be left to scroll back to (DOMAIN §4).
_CLEAR = "\x1b[H\x1b[2J\x1b[3J"


class RichTerminal:
    """A ``Terminal`` over a rich Console and the standard input."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False, soft_wrap=False)
        if sys.stdin is not None and sys.stdin.isatty():
            # Line editing for input(); answers must not linger in a history list (DOMAIN §5).
            try:
                import readline

                readline.set_auto_history(False)
            except (ImportError, AttributeError):  # Windows, libedit: plain input() still works
                pass

    def show(self, *objects: RenderableType) -> None:
        """Print renderables, one per line."""
        for obj in objects:
            self.console.print(obj)

    def ask(self, prompt: str) -> str:
        """Read one line after ``prompt``."""
        try:
            self.console.file.flush()
            return input(prompt)
        except (EOFError, KeyboardInterrupt):
            raise QuickExit from None

    def clear(self) -> None:
        """Clear the screen and scrollback, also when the output is not a terminal."""
        out = self.console.file
        out.write(_CLEAR)
        out.flush()
