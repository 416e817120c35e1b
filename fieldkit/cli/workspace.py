"""Commands: init, passphrase, recover, lock, wipe, audit verify (the workspace's keys)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fieldkit.cli._common import (
    ask_new_passphrase,
    ask_secret,
    confirm,
    get_passphrase,
    open_workspace_for,
    read_secret_file,
    settings_of,
)
from fieldkit.cli.app import app
from fieldkit.cli.groups import audit_app
from fieldkit.errors import UsageError, WorkspaceDamaged


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the encrypted workspace; asks the passphrase twice and prints a recovery key once."""
    from fieldkit.store import create_workspace, require_no_workspace

    settings = settings_of(ctx)
    require_no_workspace(settings.home)
    passphrase = ask_new_passphrase(settings, prompt="Choose a passphrase", ctx=ctx)
    ws, recovery_key = create_workspace(settings.home, passphrase=passphrase)
    with ws:
        if passphrase.typed:
            ws.remember_unlock(timeout_seconds=settings.lock_timeout_seconds)
    typer.echo(f"Workspace created in {settings.home}.")
    typer.echo("")
    typer.echo("Recovery key (shown only this once; write it on paper and keep it apart from")
    typer.echo("this laptop: it sets a new passphrase if you forget yours):")
    typer.echo("")
    typer.echo(f"    {recovery_key}")
    typer.echo("")


@app.command()
def passphrase(
    ctx: typer.Context,
    new_passphrase_file: Path | None = typer.Option(
        None, "--new-passphrase-file", help="Read the new passphrase from this file (for scripts)."
    ),
) -> None:
    """Change the passphrase (the data is not re-encrypted; the old passphrase stops working)."""
    from fieldkit.store import change_passphrase, check_passphrase, lock_workspace, workspace_id

    settings = settings_of(ctx)
    workspace_id(settings.home)  # missing, wiped or damaged: say so before asking anything
    old = get_passphrase(settings, prompt="Current passphrase", ctx=ctx)
    check_passphrase(settings.home, passphrase=old)  # a wrong one: say so before the new one
    new = ask_new_passphrase(settings, file=new_passphrase_file, ctx=ctx)
    change_passphrase(settings.home, old=old, new=new)
    lock_workspace(settings.home)
    typer.echo("Passphrase changed.")


@app.command()
def recover(
    ctx: typer.Context,
    recovery_key_file: Path | None = typer.Option(
        None, "--recovery-key-file", help="Read the recovery key from this file (for scripts)."
    ),
    new_passphrase_file: Path | None = typer.Option(
        None, "--new-passphrase-file", help="Read the new passphrase from this file (for scripts)."
    ),
) -> None:
    """Set a new passphrase with the recovery key printed at init."""
    from fieldkit.store import recover_workspace, workspace_id

    settings = settings_of(ctx)
    workspace_id(settings.home)  # missing, wiped or damaged: say so before asking anything
    if recovery_key_file is not None:
        recovery_key = read_secret_file(recovery_key_file)
    else:
        recovery_key = ask_secret(
            "Recovery key",
            missing=UsageError("no recovery key: type it, or use --recovery-key-file"),
        )
    new = ask_new_passphrase(settings, file=new_passphrase_file, ctx=ctx)
    recover_workspace(settings.home, recovery_key=recovery_key, new_passphrase=new)
    typer.echo("New passphrase set. The recovery key still works; keep it safe.")


@app.command()
def lock(ctx: typer.Context) -> None:
    """Forget the cached unlock: the next command asks for the passphrase again."""
    from fieldkit.store import lock_workspace

    dropped = lock_workspace(settings_of(ctx).home)
    typer.echo("Locked." if dropped else "Locked (nothing was unlocked).")


@app.command()
def wipe(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Destroy the workspace's key: every record in it becomes unrecoverable, at once."""
    from fieldkit.store import wipe_workspace

    settings = settings_of(ctx)
    if not yes:
        if not confirm(f"Destroy the workspace in {settings.home}? Its data cannot be recovered"):
            raise UsageError("not wiped: confirm at the prompt, or pass --yes")
    wipe_workspace(settings.home)
    typer.echo("Wiped: the key is destroyed and the data cannot be recovered.")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check that no audit entry was edited, inserted or deleted, and every database page."""
    with open_workspace_for(ctx) as ws:
        report = ws.audit.verify()
        if report.ok:
            ws.check()  # SQLCipher's page HMACs and SQLite's b-trees: WorkspaceDamaged if not
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "entries": report.entries,
                    "problem": report.problem,
                    "seq": report.seq,
                }
            )
        )
        if not report.ok:
            raise typer.Exit(1)
        return
    if not report.ok:
        raise WorkspaceDamaged(f"audit log broken: {report.problem}")
    typer.echo(f"Audit log intact: {report.entries} entries; every database page checks out.")
