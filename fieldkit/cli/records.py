"""Commands: records list | show | open | discard (sensitive answers masked unless --reveal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fieldkit.cli._common import confirm, open_workspace_for
from fieldkit.cli.groups import records_app
from fieldkit.errors import UsageError
from fieldkit.text import inert

if TYPE_CHECKING:
    from fieldkit.store import Workspace

# The list names a record by these answers only, when a form has them: codes that help a worker
# find a draft (which case, where, when) and say nothing of what the person disclosed. Screening
# answers never appear in a list, where anyone looking over a shoulder could read them.
_PREVIEW_FIELDS = ("client_pseudonym", "site", "interview_date")


@records_app.command("list")
def list_records(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="draft, finalized or sent."),
    form: str | None = typer.Option(None, "--form", help="Only records of this form id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only (no answers)."),
) -> None:
    """List records, newest last: case code, site and day where the form has them, never
    other answers."""
    from fieldkit.ids import short_ids
    from fieldkit.store.forms import mask_sensitive

    with open_workspace_for(ctx) as ws:
        records = ws.records.list(status=status, form_id=form)
        delivered = ws.records.delivered_by()
        if as_json:
            rows_json = [{**r.summary(), "delivered_by": delivered.get(r.id)} for r in records]
            typer.echo(json.dumps(rows_json, ensure_ascii=False))
            return
        # Ids as the commands take them: a prefix unique in the whole workspace, not only in
        # what this list shows.
        short = short_ids(r.id for r in ws.records.list())
        sensitive = _sensitive_lookup(ws)
        rows: list[tuple[str, ...]] = []
        for record in records:
            shown = mask_sensitive(record.answers, sensitive(record.form_id, record.form_version))
            by_name = {p.rsplit("/", 1)[-1]: v for p, v in shown.items() if v}
            named = [f"{name}={by_name[name]}" for name in _PREVIEW_FIELDS if name in by_name]
            count = sum(1 for v in record.answers.values() if v)
            preview = _printable(", ".join([*named, f"{count} answer{'' if count == 1 else 's'}"]))
            replaces = short.get(record.replaces, record.replaces) if record.replaces else ""
            rows.append(
                (
                    short[record.id],
                    record.form_id,
                    record.form_version,
                    "delivered by bundle"
                    if delivered.get(record.id) == "bundle"
                    else record.status,
                    str(record.updated_at or "")[:16].replace("T", " "),
                    replaces,
                    preview,
                )
            )
    _print_records(rows)


def _print_records(rows: list[tuple[str, ...]]) -> None:
    """A table whose ids, form ids and versions are never cut or wrapped (people type them);
    where they do not fit beside the answers, one block per record."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    if not rows:
        console.print("No records.")
        return
    titles = ("id", "form", "version", "status", "updated", "replaces", "answers")
    fixed = [max(len(titles[i]), *(len(row[i]) for row in rows)) for i in range(6)]
    if sum(fixed) + 2 * 6 + 24 <= console.width:
        table = Table(box=None, header_style="bold")
        for i, title in enumerate(titles[:6]):
            table.add_column(title, no_wrap=True, min_width=fixed[i])
        table.add_column("answers", overflow="fold", ratio=1)
        for row in rows:
            # Text, not markup: an answer like "[/b]" is text, not a rich tag.
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)
    else:
        for record_id, form_id, version, status, updated, replaces, preview in rows:
            head = f"{record_id}  {form_id}  {version}  {status}  {updated}"
            console.print(Text(head + (f"  replaces {replaces}" if replaces else "")))
            console.print(Text(f"    {preview}"), soft_wrap=False)
    console.print("Ids show their first characters, enough for every command (--json: whole ids).")


@records_app.command("show")
def show_record(
    ctx: typer.Context,
    record_id: str = typer.Argument(
        ..., help="The record's id, or its first characters (see `fieldkit records list`)."
    ),
    reveal: bool = typer.Option(False, "--reveal", help="Show sensitive answers too."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Show one record and its answers; sensitive answers are masked unless --reveal."""
    from fieldkit.ids import find_record
    from fieldkit.media import attachments_of
    from fieldkit.store.forms import mask_sensitive

    with open_workspace_for(ctx) as ws:
        record = find_record(ws, record_id)
        files = [(path, a.summary()) for path, a in attachments_of(ws, record)]
        answers = record.answers
        if not reveal:
            answers = mask_sensitive(
                answers, _sensitive_lookup(ws)(record.form_id, record.form_version)
            )
        if reveal:
            ws.audit.append("reveal", record_id=record.id, form_id=record.form_id)
    if as_json:
        body = {**record.summary(), "answers": answers, "attachments": [f for _, f in files]}
        typer.echo(json.dumps(body, ensure_ascii=False))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    meta = Table(box=None, show_header=False)
    meta.add_column(style="bold")
    meta.add_column(overflow="fold")
    for key, value in record.summary().items():
        meta.add_row(key, "" if value is None else str(value))
    console.print(meta)
    console.print()
    table = Table(box=None, header_style="bold")
    table.add_column("question", overflow="fold")
    table.add_column("answer", overflow="fold")
    for path, value in answers.items():
        table.add_row(path, _printable(value))
    console.print(table if answers else "No answers yet.", markup=False)
    if files:
        console.print()
        attached = Table(box=None, header_style="bold")
        for column in ("file for", "type", "size", ""):
            attached.add_column(column, overflow="fold")
        for path, item in files:
            state = "" if item["complete"] else "not arrived yet"
            attached.add_row(path, item["content_type"], _size(int(item["size"])), state)
        console.print(attached, markup=False)
        console.print(f"Open one with: fieldkit records open {record.id} QUESTION --out PATH")


@records_app.command("open")
def open_file(
    ctx: typer.Context,
    record_id: str = typer.Argument(..., help="The record's id."),
    question: str = typer.Argument(..., help="The question's name (or path) whose file to open."),
    out: Path = typer.Option(
        ..., "--out", help="Where to write the decrypted copy (a file or a folder)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a file already at --out."),
) -> None:
    """Write one decrypted copy of a record's photo, recording or file to --out (plaintext)."""
    from fieldkit.ids import find_record
    from fieldkit.media import attachment_of, write_copy

    with open_workspace_for(ctx) as ws:
        record = find_record(ws, record_id)
        attachment = attachment_of(ws, record, question)
        target = write_copy(ws, attachment, out, overwrite=force)
        ws.audit.append("open_file", record_id=record.id, form_id=record.form_id)
    typer.echo(f"Wrote {target} ({attachment.content_type}, {_size(attachment.size)}).")
    typer.echo(
        "Warning: this copy is not encrypted. Anyone with this laptop can read it: delete it "
        "when you are done.",
        err=True,
    )


def _size(n: int) -> str:
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / (1024 * 1024):.1f} MB"


@records_app.command("discard")
def discard_record(
    ctx: typer.Context,
    record_id: str = typer.Argument(..., help="The draft's id, or its first characters."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Delete a draft (finalized records cannot be discarded)."""
    from fieldkit.ids import find_record

    with open_workspace_for(ctx) as ws:
        record_id = find_record(ws, record_id).id
        if not yes and not confirm(f"Discard draft {record_id}?"):
            raise UsageError("not discarded: confirm at the prompt, or pass --yes")
        ws.records.discard(record_id)
    if as_json:
        typer.echo(json.dumps({"discarded": record_id}))
    else:
        typer.echo(f"Discarded draft {record_id}.")


def _printable(text: str) -> str:
    """``text`` with control characters shown as U+FFFD: an answer synced from another device
    must not reach the terminal as escape sequences (retitle, clear, rewrite the screen)."""
    return inert(text)


def _sensitive_lookup(ws: Workspace) -> _Lookup:
    return _Lookup(ws)


class _Lookup:
    """Sensitive template paths per form version, cached; None when the form is not here."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._cache: dict[tuple[str, str], frozenset[str] | None] = {}

    def __call__(self, form_id: str, version: str) -> frozenset[str] | None:
        from fieldkit.errors import FormError

        key = (form_id, version)
        if key not in self._cache:
            try:
                self._cache[key] = self._ws.forms.get(form_id, version).sensitive_paths()
            except FormError:
                # Form not here, or one the engine cannot read: mask every answer.
                self._cache[key] = None
        return self._cache[key]
