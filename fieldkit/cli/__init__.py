"""The command line: thin commands over the fieldkit library (DESIGN §8).

Each module below registers its commands on the root app or a group; importing them must stay
cheap (no pandas, sqlalchemy, fastapi at module level) so ``fieldkit --help`` is instant.
"""

from __future__ import annotations

# Command modules register themselves on import.
from fieldkit.cli import commands as _commands  # noqa: F401
from fieldkit.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point."""
    import os
    import sys

    if sys.stdin is None:
        # Started with standard input closed (`<&-`, some service managers): read it as empty,
        # so a prompt ends in its one-line error instead of a crash inside input().
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    app()
