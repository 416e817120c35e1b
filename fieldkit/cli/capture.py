"""Commands: ``capture FORM_ID`` (interview, resume, answers file) and ``records edit``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fieldkit.cli.app import app
from fieldkit.cli.groups import records_app
from fieldkit.errors import UsageError

if TYPE_CHECKING:
    from fieldkit.capture import Outcome


@app.command("capture")
def capture(
    ctx: typer.Context,
    form_id: str = typer.Argument(
        ..., metavar="FORM_ID", help="The form to fill in (see `fieldkit forms list`)."
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="Language code or name, e.g. fr (default: the form's own)."
    ),
    resume: str | None = typer.Option(
        None, "--resume", metavar="RECORD_ID", help="Continue this draft where it stopped."
    ),
    answers: Path | None = typer.Option(
        None,
        "--answers",
        metavar="FILE.json",
        help="Fill, check and finalize from a JSON file keyed by question name (no questions).",
    ),
) -> None:
    """Interview someone with a form, one question at a time, saved after every answer.

    Commands at any prompt: :help. Quick exit (saves, clears the screen, locks): :q, !! or
    Ctrl-C.
    """
    from fieldkit.cli._common import open_workspace_for

    if resume is not None and answers is not None:
        raise UsageError("use either --resume or --answers, not both")
    if answers is not None:
        from fieldkit.capture import capture_answers, read_answers_file

        data = read_answers_file(answers)
        with open_workspace_for(ctx) as ws:
            record = capture_answers(ws, form_id, data=data, source=answers.name, lang=lang)
        typer.echo(f"Finalized record {record.id}")
        return

    from fieldkit.capture import RichTerminal, resume_interview, start_interview

    terminal = RichTerminal()
    with open_workspace_for(ctx) as ws:
        if resume is not None:
            record = ws.records.get(resume)
            if record.form_id != form_id:
                raise UsageError(f"record {resume} is not a {form_id} record")
            outcome = resume_interview(ws, resume, terminal=terminal, lang=lang)
        else:
            outcome = start_interview(ws, form_id, terminal=terminal, lang=lang)
    _after(ctx, outcome)


@records_app.command("edit")
def edit(
    ctx: typer.Context,
    record_id: str = typer.Argument(
        ..., metavar="RECORD_ID", help="The finalized record to change."
    ),
    lang: str | None = typer.Option(None, "--lang", help="Language code or name."),
) -> None:
    """Reopen a finalized record as a new version that replaces it; starts at the review."""
    from fieldkit.capture import RichTerminal, edit_record
    from fieldkit.cli._common import open_workspace_for

    terminal = RichTerminal()
    with open_workspace_for(ctx) as ws:
        outcome = edit_record(ws, record_id, terminal=terminal, lang=lang)
    _after(ctx, outcome)


def _after(ctx: typer.Context, outcome: Outcome) -> None:
    """After a quick exit the workspace is locked: the next command asks for the passphrase."""
    if outcome.status != "quit":
        return
    from fieldkit.cli._common import settings_of
    from fieldkit.store import lock_workspace

    lock_workspace(settings_of(ctx).home)
