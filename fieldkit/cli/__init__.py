"""The command line: thin commands over the fieldkit library (DESIGN §8).

Each module below registers its commands on the root app or a group; importing them must stay
cheap (no pandas, sqlalchemy, fastapi at module level) so ``fieldkit --help`` is instant.
"""

from __future__ import annotations

import sys

try:
    # Command modules register themselves on import.
    from fieldkit.cli import commands as _commands  # noqa: F401
    from fieldkit.cli.app import app
except KeyboardInterrupt:
    # Ctrl-C in the first tenth of a second, while typer and rich load: the same one line
    # and exit code as an interrupt inside a command, not a traceback through importlib.
    sys.stderr.write("Interrupted.\n")
    raise SystemExit(130) from None

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point."""
    import os

    if sys.stdin is None:
        # Started with standard input closed (`<&-`, some service managers): read it as empty,
        # so a prompt ends in its one-line error instead of a crash inside input().
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    try:
        try:
            app()
        finally:
            # Flushed here, where a closed pipe can still be handled, not at interpreter exit.
            sys.stdout.flush()
    except BrokenPipeError:
        # `fieldkit … | head`: the reader has all it wanted. Nothing more may reach the pipe
        # (Python would report the failed flush at exit), and no "Error: Broken pipe".
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
