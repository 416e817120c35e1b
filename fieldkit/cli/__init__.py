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
    app()
