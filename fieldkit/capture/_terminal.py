"""The interview's only contact with the outside: show something, ask for a line, clear.

``RichTerminal`` renders with rich and reads with ``input()``, so it works in a real terminal
(line editing, a pre-filled default through readline) and under typer's ``CliRunner(input=…)``
(where stdin is a plain stream and EOF ends the script). A default or the current answer is
shown in [brackets] and kept with Enter, the same way in both.

``ask_live`` reads one line while redrawing a few lines above the prompt after every key, so
a long choice list filters as the interviewer types (issue 12). It needs a real terminal
(POSIX ``termios``); anywhere else it draws once and reads a plain line, which gives the same
answers. Tests may pass any object with the same methods.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["Draw", "QuickExit", "RichTerminal", "Terminal"]

# What ask_live redraws: the lines above the prompt for what is typed so far (one row each).
Draw = Callable[[str], "Sequence[RenderableType]"]


class QuickExit(Exception):  # noqa: N818 - a signal, not an error
    """The interviewer asked to leave at once (``:q``, ``!!``, Ctrl-C or end of input)."""


class Terminal(Protocol):
    """A prompt/print pair, a live prompt, a screen clear and the screen's size."""

    def show(self, *objects: RenderableType) -> None:
        """Print renderables (rich markup allowed in strings)."""

    def ask(self, prompt: str) -> str:
        """Read one line; raise ``QuickExit`` on Ctrl-C or end of input."""
        ...

    def ask_live(self, prompt: str, *, draw: Draw) -> str:
        """Read one line, redrawing ``draw(typed)`` above the prompt as it is typed."""
        ...

    def clear(self) -> None:
        """Wipe the screen and its scrollback."""

    def size(self) -> tuple[int, int]:
        """Columns and rows of the screen."""
        ...


# ED2 clears the screen, ED3 the scrollback (xterm, tmux, VTE), CUP homes the cursor: after a
# quick exit nothing of the interview may be left to scroll back to (DOMAIN §4).
_CLEAR = "\x1b[H\x1b[2J\x1b[3J"
# Keys a live prompt understands beyond text: page down/up answer at once with > and <.
_PAGE_KEYS = {"[6~": ">", "[5~": "<", "[B": ">", "[A": "<"}


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

    def ask_path(self, prompt: str) -> str:
        """Read a file path after ``prompt``, with Tab completing names where readline works."""
        try:
            import readline
        except ImportError:
            return self.ask(prompt)
        if sys.stdin is None or not sys.stdin.isatty():
            return self.ask(prompt)
        old_completer = readline.get_completer()
        old_delims = readline.get_completer_delims()
        readline.set_completer(_complete_path)
        readline.set_completer_delims("\t\n")
        readline.parse_and_bind("tab: complete")
        try:
            return self.ask(prompt)
        finally:
            readline.set_completer(old_completer)
            readline.set_completer_delims(old_delims)

    def size(self) -> tuple[int, int]:
        """Columns and rows (rich reads the terminal, else COLUMNS/LINES, else 80×25)."""
        width, height = self.console.size
        return int(width), int(height)

    def clear(self) -> None:
        """Clear the screen and scrollback, also when the output is not a terminal."""
        out = self.console.file
        out.write(_CLEAR)
        out.flush()

    # ------------------------------------------------------------------ live prompt
    def _live(self) -> bool:
        if os.name != "posix" or sys.stdin is None:
            return False
        try:
            return sys.stdin.isatty() and self.console.file.isatty()
        except (AttributeError, ValueError):
            return False

    def ask_live(self, prompt: str, *, draw: Draw) -> str:
        """Read a line key by key, redrawing ``draw(typed)`` above the prompt each time."""
        if not self._live():
            self.show(*draw(""))
            return self.ask(prompt)
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        typed = ""
        rows = 0
        try:
            # No echo and no line buffering; Ctrl-C still raises KeyboardInterrupt. TCSANOW,
            # not tty's default TCSAFLUSH: keys typed ahead of the prompt are kept, not lost.
            tty.setcbreak(fd, termios.TCSANOW)
            rows = self._redraw(draw(typed), prompt, typed, rows=-1)
            while True:
                key = self._read_key(fd)
                if key == "\n":
                    self.console.file.write("\n")
                    self.console.file.flush()
                    return typed
                if key in {"\x03", "\x04"} and not typed:
                    raise QuickExit
                if key.startswith("\x1b"):
                    page = _PAGE_KEYS.get(key[1:])
                    if page is not None:
                        self.console.file.write("\n")
                        self.console.file.flush()
                        return page
                    continue
                if key in {"\x7f", "\x08"}:
                    typed = typed[:-1]
                elif key == "\x15":  # Ctrl-U: the whole line
                    typed = ""
                elif key == "\x17":  # Ctrl-W: the last word
                    kept = typed.rstrip()
                    typed = kept[: kept.rfind(" ") + 1] if " " in kept else ""
                elif key.isprintable():
                    typed += key
                else:
                    continue
                rows = self._redraw(draw(typed), prompt, typed, rows=rows)
        except KeyboardInterrupt:
            raise QuickExit from None
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def _read_key(self, fd: int) -> str:
        """One key: a character (UTF-8 decoded), or an escape sequence ``\\x1b[…``."""
        import select

        first = os.read(fd, 1)
        if not first:
            raise QuickExit  # end of input
        if first == b"\r":
            return "\n"
        if first == b"\x1b":
            sequence = b"\x1b"
            # The rest of an escape sequence arrives with it; a lone Escape does not wait long.
            while select.select([fd], [], [], 0.03)[0]:
                sequence += os.read(fd, 1)
                if sequence[-1:].isalpha() or sequence.endswith(b"~"):
                    break
            return sequence.decode("ascii", "replace")
        data = first
        lead = first[0]
        need = 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4
        while len(data) < need:
            more = os.read(fd, 1)
            if not more:
                break
            data += more
        return data.decode("utf-8", "replace")

    def _redraw(
        self, lines: Sequence[RenderableType], prompt: str, typed: str, *, rows: int
    ) -> int:
        """Draw ``lines`` and the prompt over what the last draw left; return the rows used
        above the prompt line (``rows`` = -1 for the first draw)."""
        from rich.cells import cell_len

        out = self.console.file
        width = max(self.size()[0], 1)
        if rows >= 0:
            out.write("\r" + (f"\x1b[{rows}A" if rows else "") + "\x1b[J")
        for line in lines:
            self.console.print(line, no_wrap=True, overflow="ellipsis", crop=True)
        used = len(lines)
        tail = prompt + typed
        out.write(tail)
        out.flush()
        # A prompt line longer than the screen wraps: the next redraw starts that much higher.
        return used + max(cell_len(tail) - 1, 0) // width


def _complete_path(text: str, state: int) -> str | None:
    """readline's completer for file paths (``~`` expanded; folders end with ``/``)."""
    import glob
    import os

    pattern = os.path.expanduser(text) + "*"
    matches = sorted(glob.glob(pattern))
    options = [m + "/" if os.path.isdir(m) else m for m in matches]
    return options[state] if state < len(options) else None
