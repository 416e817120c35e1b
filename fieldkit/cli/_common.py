"""Shared CLI helpers: settings, passphrases and opening the workspace.

Other command modules open the workspace like this (inside the command body, so that
``fieldkit --help`` never imports the database stack)::

    from fieldkit.cli._common import open_workspace_for

    @records_app.command("list")
    def list_records(ctx: typer.Context) -> None:
        with open_workspace_for(ctx) as ws:
            ...

``open_workspace_for`` tries, in order: the unlock cache in the kernel keyring, then
``--passphrase-file``, ``FIELDKIT_PASSPHRASE``, ``FIELDKIT_PASSPHRASE_FILE`` or
``passphrase_file`` in config.toml, then a hidden prompt. A passphrase typed at the prompt is
cached for ``lock_timeout_seconds`` (default 15 minutes idle) where the keyring exists; one
from the environment or a file is not (scripts have it already). With no passphrase and no
terminal the command fails with ``WorkspaceLocked``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fieldkit.config import Settings
from fieldkit.errors import FieldkitError, UsageError, WorkspaceLocked

if TYPE_CHECKING:
    from fieldkit.store import Workspace

__all__ = [
    "Passphrase",
    "ask_new_passphrase",
    "ask_secret",
    "get_passphrase",
    "open_workspace_for",
    "read_secret_file",
    "settings_of",
]

PASSPHRASE_ENV = "FIELDKIT_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)


class Passphrase(str):
    """A passphrase and where it came from (``typed`` True when from the prompt)."""

    typed: bool = False


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root callback resolved (``ctx.obj["settings"]``)."""
    root = ctx.find_root()
    state = root.obj if isinstance(root.obj, dict) else (ctx.obj or {})
    settings = state.get("settings")
    if not isinstance(settings, Settings):
        from fieldkit.config import resolve_settings

        settings = resolve_settings()
    return settings


def read_secret_file(path: Path) -> str:
    """The first line of a passphrase or recovery-key file (trailing newline removed)."""
    try:
        with path.open("rb") as handle:
            # Only the first line, bounded: --passphrase-file /dev/zero must not eat the memory.
            first = handle.readline(_SECRET_LINE_MAX + 1)
        text = first.decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc.__class__.__name__}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    if len(first) > _SECRET_LINE_MAX:
        raise UsageError(f"{path}: the first line is longer than {_SECRET_LINE_MAX} bytes")
    return text.splitlines()[0] if text else ""


_SECRET_LINE_MAX = 64 * 1024


def get_passphrase(
    settings: Settings, *, prompt: str = "Passphrase", ctx: typer.Context | None = None
) -> Passphrase:
    """The passphrase: ``--passphrase-file``, FIELDKIT_PASSPHRASE, the configured passphrase
    file (FIELDKIT_PASSPHRASE_FILE, config.toml), else a hidden prompt."""
    # Read here, not into Settings: the passphrase must not live in a long-lived object that
    # --debug tracebacks or reprs could show.
    if settings.passphrase_file is not None and _file_option_given(ctx):
        return Passphrase(read_secret_file(settings.passphrase_file))  # the option beats env
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return Passphrase(from_env)
    if settings.passphrase_file is not None:
        return Passphrase(read_secret_file(settings.passphrase_file))
    typed = Passphrase(_prompt(prompt))
    typed.typed = True
    return typed


def _file_option_given(ctx: typer.Context | None) -> bool:
    if ctx is None:
        return False
    return ctx.find_root().params.get("passphrase_file") is not None


def ask_new_passphrase(
    settings: Settings,
    *,
    file: Path | None = None,
    prompt: str = "New passphrase",
    ctx: typer.Context | None = None,
) -> Passphrase:
    """A new passphrase: from ``file``, the environment or passphrase file, else asked twice."""
    if file is not None:
        return Passphrase(read_secret_file(file))
    from fieldkit.store import passphrase_problem

    if os.environ.get(PASSPHRASE_ENV) or settings.passphrase_file is not None:
        return get_passphrase(settings, ctx=ctx)
    while True:
        first = _prompt(prompt)
        problem = passphrase_problem(first)
        if problem:
            # Asked interactively: say why and ask again rather than failing the whole command.
            typer.echo(f"Too weak: {problem}.", err=True)
            continue
        if _prompt(f"{prompt} (again)") == first:
            typed = Passphrase(first)
            typed.typed = True
            return typed
        typer.echo("The two passphrases differ; try again.", err=True)


def _input_waiting() -> bool:
    """True when standard input can be read at once (data or end of input is there)."""
    import select

    try:
        ready, _, _ = select.select([sys.stdin], [], [], 0)
    except (OSError, ValueError, TypeError):  # Windows pipes; a stream with no descriptor
        return False
    return bool(ready)


def confirm(text: str) -> bool:
    """Ask yes or no (default no). Input already waiting on a non-terminal stdin (a script's
    pipe, /dev/null) is read without the question, so a refusal is the caller's one line."""
    if not sys.stdin.isatty() and _input_waiting():
        return sys.stdin.readline().strip().lower() in {"y", "yes"}
    try:
        return bool(typer.confirm(text, default=False, err=True))
    except typer.Abort:
        return False


def ask_line(text: str) -> str:
    """Ask for a line of visible text at a terminal ("" at end of input or Ctrl-C)."""
    try:
        return str(typer.prompt(text, default="", show_default=False, err=True))
    except typer.Abort:
        return ""


def ask_secret(text: str, *, missing: FieldkitError | None = None) -> str:
    """Ask for a secret without echoing it; ``missing`` (default ``WorkspaceLocked``) at EOF."""
    error = missing or WorkspaceLocked(
        f"no passphrase: type it at a terminal, or set {PASSPHRASE_ENV} or --passphrase-file"
    )
    if not sys.stdin.isatty():
        # Piped in (a script, a test): read a line. getpass would warn that it cannot hide
        # what is typed, which is noise when nothing is being typed. Input already waiting (a
        # file, a filled pipe, /dev/null) needs no prompt, so running out of it is one line.
        prompted = not _input_waiting()
        if prompted:
            typer.echo(f"{text}: ", err=True, nl=False)
        line = sys.stdin.readline()
        if prompted:
            typer.echo("", err=True)
        if not line:
            raise error
        return line.rstrip("\r\n")
    try:
        value = typer.prompt(text, hide_input=True, err=True)
    except typer.Abort:
        raise error from None
    return str(value)


_prompt = ask_secret


def open_workspace_for(ctx: typer.Context) -> Workspace:
    """Open the workspace of this invocation: unlock cache, else the passphrase (see above)."""
    from fieldkit.store import open_from_cache, open_workspace

    settings = settings_of(ctx)
    cached = open_from_cache(settings.home, timeout_seconds=settings.lock_timeout_seconds)
    if cached is not None:
        return cached
    passphrase = get_passphrase(settings, ctx=ctx)
    ws = open_workspace(settings.home, passphrase=passphrase)
    if passphrase.typed:
        ws.remember_unlock(timeout_seconds=settings.lock_timeout_seconds)
    return ws
