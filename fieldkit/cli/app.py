"""The root typer app, its global options and the one place errors become exit codes."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

import typer
from typer import _click
from typer.core import TyperGroup

from fieldkit import __version__
from fieldkit.errors import FieldkitError

__all__ = ["app", "sub_app"]


class _Root(TyperGroup):
    """Turns a FieldkitError anywhere below into one line on stderr and its exit code."""

    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FieldkitError as exc:
            if _debug(ctx):
                raise
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if _debug(ctx):
                raise
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from None
        except OSError as exc:
            # A reader that stopped reading (`fieldkit … | head`) is not an error to report:
            # the entry point leaves quietly.
            if exc.errno == errno.EPIPE:
                raise
            # A disk or permission failure the library did not foresee: still one line, no trace.
            if _debug(ctx):
                raise
            typer.echo(f"Error: {exc.strerror or exc.__class__.__name__}", err=True)
            raise typer.Exit(1) from None


def _debug(ctx: _click.Context) -> bool:
    state = ctx.find_object(dict)
    settings = state.get("settings") if state else None
    return bool(settings and settings.debug) or "--debug" in sys.argv


app = typer.Typer(
    name="fieldkit",
    cls=_Root,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Offline-first, end-to-end encrypted field data collection.",
)


def sub_app(name: str, help_text: str) -> typer.Typer:
    """A command group under the root (``fieldkit NAME …``)."""
    group = typer.Typer(no_args_is_help=True, add_completion=False, help=help_text)
    app.add_typer(group, name=name)
    return group


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fieldkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", help="Workspace folder (default: FIELDKIT_HOME, then the user data folder)."
    ),
    passphrase_file: Path | None = typer.Option(
        None, "--passphrase-file", help="Read the passphrase from this file (for scripts)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """fieldkit: capture interviews offline, sealed on the device; sync, export and report."""
    from fieldkit.config import resolve_settings

    ctx.ensure_object(dict)
    ctx.obj["settings"] = resolve_settings(home=home, debug=debug, passphrase_file=passphrase_file)


# `fieldkit cases`: a coordinator's case orders (withdraw, erase, assign) are added here.
cases_app = sub_app("cases", "Follow a person's case: assign it, withdraw consent, erase it.")
from fieldkit.cli import case_orders as _case_orders  # noqa: E402 (needs sub_app above)

_case_orders.register(cases_app)
