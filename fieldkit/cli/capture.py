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
    from fieldkit.store import Workspace


@app.command("capture")
def capture(
    ctx: typer.Context,
    form_id: str | None = typer.Argument(
        None,
        metavar="[FORM_ID]",
        help="The form to fill in (see `fieldkit forms list`); with --resume, optional.",
    ),
    record_id: str | None = typer.Argument(
        None, metavar="[RECORD_ID]", help="With --resume: the draft (its id or a unique prefix)."
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="Language code or name, e.g. fr (default: the form's own)."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue a draft: `--resume RECORD_ID` (or an id prefix); `--resume` alone lists "
        "this laptop's drafts to pick from.",
    ),
    answers: Path | None = typer.Option(
        None,
        "--answers",
        metavar="FILE.json",
        help="Fill, check and finalize from a JSON file keyed by question name (no questions).",
    ),
    delete_originals: bool = typer.Option(
        False,
        "--delete-originals",
        help="With --answers: delete the files the answers name once they are copied in.",
    ),
) -> None:
    """Interview someone with a form, one question at a time, saved after every answer.

    Commands at any prompt: :help. Quick exit (saves, clears the screen, locks): :q, !! or
    Ctrl-C.
    """
    from fieldkit.cli._common import open_workspace_for

    if resume and answers is not None:
        raise UsageError("use either --resume or --answers, not both")
    if answers is not None:
        if form_id is None or record_id is not None:
            raise UsageError("--answers needs exactly one FORM_ID")
        from fieldkit.capture import capture_answers, case_code_of, read_answers_file

        data = read_answers_file(answers)
        with open_workspace_for(ctx) as ws:
            record = capture_answers(
                ws,
                form_id,
                data=data,
                source=answers.name,
                lang=lang,
                base=answers.resolve().parent,
                delete_originals=delete_originals,
            )
        code = case_code_of(record) if record.form_id == "consent" else None
        typer.echo(f"Finalized record {record.id}" + (f" (case code {code})" if code else ""))
        return
    if not resume and (form_id is None or record_id is not None):
        raise UsageError("name one form to fill in (`fieldkit forms list`), or use --resume")

    from fieldkit.capture import RichTerminal, resume_interview, start_interview

    terminal = RichTerminal()
    with open_workspace_for(ctx) as ws:
        if resume:
            form, draft = _resume_target(ws, form_id, record_id)
            outcome = resume_interview(ws, draft, terminal=terminal, lang=lang, form_id=form)
        else:
            assert form_id is not None
            outcome = start_interview(ws, form_id, terminal=terminal, lang=lang)
    _after(ctx, outcome)


def _resume_target(
    ws: Workspace, first: str | None, second: str | None
) -> tuple[str | None, str | None]:
    """(form id, record id or prefix) from `capture [FORM_ID] [RECORD_ID] --resume`: one
    word alone is a form of this workspace if there is one by that name, else a record."""
    if second is not None:
        return first, second
    if first is None:
        return None, None
    known = {version.form_id for version in ws.forms.list()}
    return (first, None) if first in known else (None, first)


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
    """After a quick exit the workspace is locked: the next command asks for the passphrase.
    The one line left on the cleared screen says how to go on, and nothing about whom."""
    if outcome.status != "quit":
        return
    from fieldkit.cli._common import settings_of
    from fieldkit.store import lock_workspace

    lock_workspace(settings_of(ctx).home)
    typer.echo("Locked. `fieldkit capture --resume` continues a draft.")
